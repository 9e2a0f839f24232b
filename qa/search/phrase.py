"""Phrase timelines: every exact occurrence of a formulation (提法), when it was used, by whom, first where.

Exact means the phrase's characters in order, compared after folding both sides the same way
(Simplified script, ASCII widths, lower case), so a Traditional phrase finds Simplified documents and
the reverse. Folding keeps one character for one (qa.index.phrase_index.fold_for_phrase), so every offset
found is an offset into the text the reader sees. The store's trigram index names the documents that
may hold the phrase; each of those is scanned exactly here.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from qa.citations import source_group
from qa.index.contract import PhraseReads
from qa.index.phrase_index import fold_for_phrase
from qa.search.requests import PhraseRequest
from qa.types import Document, Hit, Passage

# "auto" draws months while the dated occurrences span at most this many; years beyond.
AUTO_MONTHS = 36


@dataclass(frozen=True)
class Occurrence:
    document: Document
    start: int  # [start, end) in the document's cleaned text
    end: int


@dataclass(frozen=True)
class PeriodCount:
    period: str  # "2025-01" or "2025"
    occurrences: int
    documents: int


@dataclass(frozen=True)
class UsageCount:
    value: str
    documents: int
    occurrences: int


@dataclass(frozen=True)
class PhraseTimeline:
    phrase: str
    granularity: str  # "month" or "year", as drawn
    total_occurrences: int
    total_documents: int
    undated_occurrences: int
    first: Hit | None  # the earliest dated occurrence (the first one when none is dated)
    series: tuple[PeriodCount, ...]  # every period from the first to the last, empty ones included
    by_speaker: tuple[UsageCount, ...]
    by_source: tuple[UsageCount, ...]
    occurrences: tuple[Hit, ...]  # the requested page, in time order; highlights mark the phrase
    offset: int
    limit: int
    took_ms: float


def find_spans(folded_text: str, folded_phrase: str) -> list[tuple[int, int]]:
    """Non-overlapping [start, end) spans of the phrase, left to right (what str.count counts)."""
    spans = []
    size = len(folded_phrase)
    at = folded_text.find(folded_phrase)
    while at >= 0:
        spans.append((at, at + size))
        at = folded_text.find(folded_phrase, at + size)
    return spans


def find_occurrences(documents: Iterable[Document], folded_phrase: str) -> list[Occurrence]:
    """Every occurrence in these documents, in time order (undated last), then by document and offset."""
    found = [
        Occurrence(document, start, end)
        for document in documents
        for start, end in find_spans(fold_for_phrase(document.text), folded_phrase)
    ]
    found.sort(key=lambda o: (o.document.metadata.date is None, o.document.metadata.date or "", o.document.doc_id, o.start))
    return found


def period_of(date: str, granularity: str) -> str:
    return date[:7] if granularity == "month" else date[:4]


def resolve_granularity(granularity: str, dates: Sequence[str]) -> str:
    if granularity != "auto":
        return granularity
    if not dates:
        return "year"
    first, last = min(dates), max(dates)
    months = (int(last[:4]) - int(first[:4])) * 12 + int(last[5:7]) - int(first[5:7])
    return "month" if months < AUTO_MONTHS else "year"


def periods_between(first: str, last: str, granularity: str) -> list[str]:
    """Every period label from first to last inclusive ("2024-11", "2024-12", "2025-01", ...)."""
    if granularity == "year":
        return [str(year) for year in range(int(first), int(last) + 1)]
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def period_bounds(period: str) -> tuple[str, str]:
    """The first and last ISO date of a period label: what a bar's link filters on."""
    if len(period) == 4:
        return f"{period}-01-01", f"{period}-12-31"
    year, month = int(period[:4]), int(period[5:7])
    following = dt.date(year + 1, 1, 1) if month == 12 else dt.date(year, month + 1, 1)
    return f"{period}-01", (following - dt.timedelta(days=1)).isoformat()


def series_of(occurrences: Sequence[Occurrence], granularity: str) -> tuple[PeriodCount, ...]:
    dated = [(period_of(o.document.metadata.date, granularity), o.document.doc_id)
             for o in occurrences if o.document.metadata.date]
    if not dated:
        return ()
    counts = Counter(period for period, _ in dated)
    documents = Counter(period for period, _ in set(dated))
    labels = periods_between(min(counts), max(counts), granularity)
    return tuple(PeriodCount(label, counts.get(label, 0), documents.get(label, 0)) for label in labels)


def usage_by(occurrences: Sequence[Occurrence], key: Callable[[Document], str | None]) -> tuple[UsageCount, ...]:
    """Documents and occurrences per value of `key` (unknown values left out), most documents first."""
    occurrence_counts: Counter[str] = Counter()
    documents: dict[str, set[str]] = {}
    values: dict[str, str | None] = {}  # per document: a document has many occurrences
    for occurrence in occurrences:
        doc_id = occurrence.document.doc_id
        if doc_id not in values:
            values[doc_id] = key(occurrence.document)
        value = values[doc_id]
        if value:
            occurrence_counts[value] += 1
            documents.setdefault(value, set()).add(occurrence.document.doc_id)
    rows = [UsageCount(value, len(documents[value]), occurrence_counts[value]) for value in occurrence_counts]
    return tuple(sorted(rows, key=lambda row: (-row.documents, -row.occurrences, row.value)))


def passage_for(passages: Sequence[Passage], start: int, end: int) -> tuple[Passage, tuple[int, int]] | None:
    """The first passage that holds the whole span (passages overlap by a sentence), else the one holding its
    start; with the span as offsets into that passage's text."""
    holding = [p for p in passages if p.char_start <= start and end <= p.char_end]
    if not holding:
        holding = [p for p in passages if p.char_start <= start < p.char_end]
    if not holding:
        return None
    passage = min(holding, key=lambda p: p.ordinal)
    return passage, (start - passage.char_start, min(end, passage.char_end) - passage.char_start)


def as_hits(occurrences: Sequence[Occurrence], passages_of: Callable[[str], Sequence[Passage]],
            first_rank: int = 1) -> list[Hit]:
    """Occurrences as cited passages (rank = position in the whole list), the phrase as the highlight."""
    cache: dict[str, Sequence[Passage]] = {}
    hits = []
    for rank, occurrence in enumerate(occurrences, start=first_rank):
        doc_id = occurrence.document.doc_id
        if doc_id not in cache:
            cache[doc_id] = passages_of(doc_id)
        located = passage_for(cache[doc_id], occurrence.start, occurrence.end)
        if located is None:  # a document without passages: nothing to cite
            continue
        passage, span = located
        hits.append(Hit(rank=rank, score=0.0, passage=passage, document=occurrence.document, highlights=(span,),
                        match=(occurrence.start, occurrence.end)))
    return hits


# Cleaning drops control characters from every stored text (qa.ingest.cleaning), so a phrase holding one
# occurs nowhere; it is answered so without asking the index, whose query syntax cannot carry a NUL.
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def phrase_timeline(collection: PhraseReads, request: PhraseRequest) -> PhraseTimeline:
    """The timeline of one phrase over the documents the request's filters allow."""
    started = time.perf_counter()
    request = request.checked()
    folded = fold_for_phrase(request.phrase)
    candidates = {} if _CONTROL_CHARS.search(folded) else collection.phrase_candidates(folded, request.where)
    occurrences = find_occurrences(candidates.values(), folded)
    granularity = resolve_granularity(request.granularity, [o.document.metadata.date for o in occurrences
                                                            if o.document.metadata.date])
    dated = next((o for o in occurrences if o.document.metadata.date), occurrences[0] if occurrences else None)
    first_hits = as_hits([dated], collection.passages_of) if dated is not None else []
    page = as_hits(occurrences[request.offset : request.offset + request.limit], collection.passages_of, request.offset + 1)
    return PhraseTimeline(
        phrase=request.phrase,
        granularity=granularity,
        total_occurrences=len(occurrences),
        total_documents=len({o.document.doc_id for o in occurrences}),
        undated_occurrences=sum(1 for o in occurrences if not o.document.metadata.date),
        first=first_hits[0] if first_hits else None,
        series=series_of(occurrences, granularity),
        by_speaker=usage_by(occurrences, lambda d: d.metadata.speaker),
        by_source=usage_by(occurrences, lambda d: source_group(d.source)),
        occurrences=tuple(page),
        offset=request.offset,
        limit=request.limit,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )
