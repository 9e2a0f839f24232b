"""Where else a passage's wording is used: every document sharing a run of it, in time order, with the spans aligned.

A reuse is a run of at least MIN_RUN (qa.index.reuse_segment) characters that the passage and a document share in their reuse
form (qa.text.fingerprints: one script and width, no punctuation or spaces), found by the reuse index
(qa.index.reuse_index), which finds every such run. Runs are mapped back to offsets in the passage and
in the document, so both sides can be marked where the reader sees them.

Boilerplate a document shares with its own series (the same title template from the same source, as
a weekly meeting's story repeats its opening) is flagged, grouped and can be hidden, so that reuse
across series stands out.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.citations import source_group
from qa.errors import BadInputError, NotFoundError
from qa.index.contract import ReuseView
from qa.index.reuse_index import DocumentRuns
from qa.search.phrase import passage_for, period_of, periods_between, resolve_granularity
from qa.search.requests import ReuseRequest
from qa.text.fingerprints import ReuseForm, reuse_form
from qa.types import Document, DocumentSummary, Passage


@dataclass(frozen=True)
class SharedSpan:
    """One shared run: its span in the source text and in the document's text, and its length in reuse-form characters."""

    source: tuple[int, int]
    document: tuple[int, int]
    length: int


@dataclass(frozen=True)
class Reuse:
    document: DocumentSummary
    passage: Passage  # the document's passage holding the first shared run: what is cited
    spans: tuple[SharedSpan, ...]  # in source order
    shared_chars: int  # the source's reuse-form characters that the document shares
    share: float  # shared_chars over the source's reuse-form characters
    longest: int
    same_series: bool
    earliest: bool  # the earliest dated document holding the wording (the source's own included)

    @property
    def highlights(self) -> list[tuple[int, int]]:
        """The shared wording inside the cited passage, as offsets into its text."""
        passage = self.passage
        return sorted((max(s.document[0], passage.char_start) - passage.char_start,
                       min(s.document[1], passage.char_end) - passage.char_start)
                      for s in self.spans if s.document[0] < passage.char_end and s.document[1] > passage.char_start)

    @property
    def source_highlights(self) -> list[tuple[int, int]]:
        """The shared wording in the source text."""
        return sorted(span.source for span in self.spans)


@dataclass(frozen=True)
class SeriesGroup:
    """Documents of the source's own series that share its wording."""

    title: str  # the title template, digits as #
    source: str | None
    documents: int
    first_date: str | None
    last_date: str | None


@dataclass(frozen=True)
class ReusePeriod:
    period: str  # "2025-01" or "2025"
    documents: int


@dataclass(frozen=True)
class ReuseReport:
    source_text: str
    source_passage: Passage | None  # None for a pasted text
    source_document: DocumentSummary | None
    min_run: int
    granularity: str
    total_documents: int  # documents listed (the series' left out when hidden)
    series_documents: int  # documents of the source's own series sharing its wording, hidden or not
    earliest: DocumentSummary | None  # the earliest dated document holding the wording, the source's own included
    earliest_chunk_id: str | None  # its passage holding the wording (of the listed page or the source)
    source_is_earliest: bool
    undated_documents: int
    periods: tuple[ReusePeriod, ...]  # every period from the first to the last, empty ones included
    series: SeriesGroup | None
    reuses: tuple[Reuse, ...]  # the requested page, in time order
    offset: int
    limit: int
    took_ms: float


# Leading tags ([视频], 【联播快讯】) and numbers (dates, issue and session numbers) vary within a series.
_TITLE_TAGS = re.compile(r"^\s*(?:\[[^\]]*\]|【[^】]*】|［[^］]*］)+")
_TITLE_NUMBERS = re.compile(r"[0-9０-９]+(?:[.．][0-9０-９]+)?|[〇零一二三四五六七八九十百千两]+(?=[年月日号届次期周])")
_TITLE_SPACE = re.compile(r"\s+")


def title_template(title: str | None) -> str | None:
    """A title with its leading tags dropped and its numbers as #: what a series' documents have in common."""
    if not title:
        return None
    template = _TITLE_SPACE.sub("", _TITLE_NUMBERS.sub("#", _TITLE_TAGS.sub("", title)))
    return template or None


def series_key(document: DocumentSummary) -> tuple[str | None, str] | None:
    """(source site or file, title template) of the series a document belongs to; None without a title."""
    template = title_template(document.metadata.title)
    return None if template is None else (source_group(document.source), template)


def reuse_of(view: ReuseView, request: ReuseRequest) -> ReuseReport:
    """Every document that reuses the wording of a passage or a pasted text, as ``request`` asks."""
    started = time.perf_counter()
    request = request.checked()
    passage = source_document = None
    if request.chunk_id is not None:
        passage = view.passage_of_chunk(request.chunk_id)
        if passage is None:
            raise NotFoundError(f"no passage with chunk_id {request.chunk_id!r}; take chunk ids from search results")
        source_document = view.documents([passage.doc_id]).get(passage.doc_id)
        text = passage.text
    else:
        text = request.text or ""
        form = reuse_form(text)
        if len(form) < view.reuse.min_run:
            raise BadInputError(f"the text holds {len(form)} letters and digits; reuse is a shared run of at least "
                                f"{view.reuse.min_run}, so give a longer passage")
    form = reuse_form(text)
    allowed = view.filtered_pids(request.where) if request.where.active else None
    found = view.reuse.matches(form.codes, allowed, exclude_doc=passage.doc_id if passage else None)
    summaries = view.documents([match.doc_id for match in found])
    found = [match for match in found if match.doc_id in summaries]
    own_series = series_key(source_document) if source_document is not None else None
    in_series = {match.doc_id for match in found
                 if own_series is not None and series_key(summaries[match.doc_id]) == own_series}
    listed = [match for match in found if not (request.hide_series and match.doc_id in in_series)]
    listed.sort(key=lambda m: _date_order(summaries[m.doc_id]))
    earliest = _earliest([summaries[m.doc_id] for m in found], source_document)
    dates = [summaries[m.doc_id].metadata.date for m in listed]
    granularity = resolve_granularity(request.granularity, [d for d in dates if d])
    page = listed[request.offset : request.offset + request.limit]
    texts = view.documents_with_text([m.doc_id for m in page])
    reuses = tuple(
        reuse for match in page if match.doc_id in texts
        if (reuse := _reuse(match, texts[match.doc_id], view.passages_of(match.doc_id), form,
                            match.doc_id in in_series, earliest is not None and earliest.doc_id == match.doc_id))
    )
    series_members = [summaries[doc_id] for doc_id in in_series]
    source_is_earliest = earliest is not None and source_document is not None and earliest.doc_id == source_document.doc_id
    return ReuseReport(
        source_text=text,
        source_passage=passage,
        source_document=source_document,
        min_run=view.reuse.min_run,
        granularity=granularity,
        total_documents=len(listed),
        series_documents=len(in_series),
        earliest=earliest,
        earliest_chunk_id=(passage.chunk_id if source_is_earliest and passage else
                           _earliest_chunk(view, earliest, found, reuses, form) if earliest is not None else None),
        source_is_earliest=source_is_earliest,
        undated_documents=sum(1 for d in dates if not d),
        periods=_periods([d for d in dates if d], granularity),
        series=_series_group(own_series, series_members),
        reuses=reuses,
        offset=request.offset,
        limit=request.limit,
        took_ms=round((time.perf_counter() - started) * 1000, 2),
    )


def _earliest_chunk(view: ReuseView, earliest: DocumentSummary, found: Sequence[DocumentRuns],
                    listed: Sequence[Reuse], form: ReuseForm) -> str | None:
    """The passage of the earliest document that holds its first shared run (read again when it is not listed)."""
    shown = next((r for r in listed if r.document.doc_id == earliest.doc_id), None)
    if shown is not None:
        return shown.passage.chunk_id
    match = next((m for m in found if m.doc_id == earliest.doc_id), None)
    document = view.documents_with_text([earliest.doc_id]).get(earliest.doc_id) if match is not None else None
    if match is None or document is None:
        return None
    reuse = _reuse(match, document, view.passages_of(earliest.doc_id), form, False, True)
    return reuse.passage.chunk_id if reuse is not None else None


def _date_order(document: DocumentSummary) -> tuple:
    return document.metadata.date is None, document.metadata.date or "", document.doc_id


def _earliest(documents: Sequence[DocumentSummary], source: DocumentSummary | None) -> DocumentSummary | None:
    """The earliest dated of these documents and the source's own (the source wins a tie): None when none is dated."""
    dated = [d for d in ([source] if source is not None else []) + list(documents) if d.metadata.date]
    if not dated:
        return None
    first = min(d.metadata.date or "" for d in dated)
    return next(d for d in dated if d.metadata.date == first)


def _periods(dates: Sequence[str], granularity: str) -> tuple[ReusePeriod, ...]:
    if not dates:
        return ()
    counts = Counter(period_of(date, granularity) for date in dates)
    return tuple(ReusePeriod(label, counts.get(label, 0)) for label in periods_between(min(counts), max(counts), granularity))


def _series_group(key: tuple[str | None, str] | None, members: Sequence[DocumentSummary]) -> SeriesGroup | None:
    if key is None or not members:
        return None
    dates = sorted(d.metadata.date for d in members if d.metadata.date)
    return SeriesGroup(title=key[1], source=key[0], documents=len(members), first_date=dates[0] if dates else None,
                       last_date=dates[-1] if dates else None)


def aligned_spans(match: DocumentRuns, source: ReuseForm, document: ReuseForm) -> tuple[SharedSpan, ...]:
    """The runs of ``match`` as offsets into the source text and the document's text."""
    return tuple(
        SharedSpan(source.span_in_text(int(at), int(at + length)), document.span_in_text(int(doc_at), int(doc_at + length)),
                   int(length))
        for at, doc_at, length in match.runs
    )


def covered(match: DocumentRuns, source_length: int) -> int:
    """How many of the source's reuse-form characters lie inside some run of ``match``."""
    inside = np.zeros(source_length, dtype=bool)
    for at, _, length in match.runs:
        inside[at : at + length] = True
    return int(inside.sum())


def _reuse(match: DocumentRuns, document: Document, passages: Sequence[Passage], source: ReuseForm,
           same_series: bool, earliest: bool) -> Reuse | None:
    """The reuse as shown; None for a document whose passages do not hold the run (nothing to cite)."""
    spans = aligned_spans(match, source, reuse_form(document.text))
    first = min(spans, key=lambda span: span.document)
    located = passage_for(passages, *first.document)
    if located is None:
        return None
    shared = covered(match, len(source))
    return Reuse(document=document, passage=located[0], spans=spans, shared_chars=shared,
                 share=round(shared / len(source), 4) if len(source) else 0.0,
                 longest=match.longest, same_series=same_series, earliest=earliest)


def passages_with_reuse(view: ReuseView, passages: Sequence[Passage]) -> set[str]:
    """The chunk ids of these passages whose wording some other document shares (a run of the minimum)."""
    return {p.chunk_id for p in passages if view.reuse.has_reuse(reuse_form(p.text).codes, exclude_doc=p.doc_id)}
