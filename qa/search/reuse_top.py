"""The most reused passages of a collection (or of the documents a filter allows), with their reach in documents and time.

Candidates come from the reuse index's most widely held fingerprints: a fingerprint that many
documents hold marks wording they may share. Each candidate is checked exactly: the passage holding
the fingerprint is looked up as qa.search.reuse does, so every count listed is the number of
documents that share a run of at least MIN_RUN with it. The order in which candidates are tried is
an estimate (a fingerprint's documents, not the passage's), so the search tries more candidates than
it lists and stops once the next fingerprint is held by fewer documents than the last passage listed.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qa.index.contract import ReuseView
from qa.index.reuse_index import DocumentRuns
from qa.search.phrase import passage_for
from qa.search.requests import TopReuseRequest
from qa.search.reuse import series_key
from qa.text.fingerprints import ReuseForm, reuse_form
from qa.types import DocumentSummary, Passage

# Candidates tried per passage listed (beyond a first few): the estimate misorders some, never most.
CANDIDATES_PER_PASSAGE = 4
FIRST_CANDIDATES = 20


@dataclass(frozen=True)
class ReusedPassage:
    passage: Passage  # in the earliest dated document holding the wording
    document: DocumentSummary
    documents: int  # documents holding the wording, that one included (its series' left out when hidden)
    series_documents: int  # documents of the passage's own series among those holding it, hidden or not
    first_date: str | None
    last_date: str | None
    shared: tuple[int, int]  # the span of the passage's text that the most of those documents share
    shared_documents: int  # how many of them share that span (the passage's own not counted)


@dataclass(frozen=True)
class TopReuse:
    passages: tuple[ReusedPassage, ...]  # most documents first
    candidates_checked: int
    took_ms: float


def most_reused(view: ReuseView, request: TopReuseRequest) -> TopReuse:
    """The passages whose wording the most documents share, as ``request`` asks."""
    started = time.perf_counter()
    request = request.checked()
    allowed = view.filtered_pids(request.where) if request.where.active else None
    covered: set[int] = set()
    found: list[ReusedPassage] = []
    checked = 0
    budget = FIRST_CANDIDATES + CANDIDATES_PER_PASSAGE * request.limit
    candidates = view.reuse.shared_fingerprints(allowed)
    # The documents the search will likely read, asked for at once: a backend with round trips (Milvus) reads
    # them in one, and keeps them for the rest of the request.
    view.documents(list(dict.fromkeys(c.doc_id for c in candidates[:budget])))
    for candidate in candidates:
        if candidate.hash in covered:
            continue
        listed = sorted(found, key=lambda p: -p.documents)[: request.limit]
        if checked >= budget or (len(listed) == request.limit and candidate.documents <= listed[-1].documents):
            break
        checked += 1
        passage = _passage_at(view, candidate.doc_id, candidate.place)
        if passage is None:
            continue
        reused = _reach(view, passage, allowed, request.hide_series, covered)
        # Several candidates can lead to one earliest passage: it is listed once.
        if reused is not None and all(p.passage.chunk_id != reused.passage.chunk_id for p in found):
            found.append(reused)
        covered.add(candidate.hash)
    found.sort(key=lambda p: (-p.documents, p.first_date or "9999", p.passage.chunk_id))
    return TopReuse(tuple(found[: request.limit]), checked, round((time.perf_counter() - started) * 1000, 2))


def _passage_at(view: ReuseView, doc_id: str, place: int) -> Passage | None:
    """The passage of a document holding its reuse-form character ``place``."""
    document = view.documents_with_text([doc_id]).get(doc_id)
    if document is None:
        return None
    form = reuse_form(document.text)
    if place >= len(form):
        return None
    offset = int(form.positions[place])
    located = passage_for(view.passages_of(doc_id), offset, offset + 1)
    return located[0] if located is not None else None


@dataclass(frozen=True)
class _Holders:
    """The documents holding a passage's wording, as the top list counts them."""

    counted: list[DocumentSummary]  # the passage's own first (its series' left out when hidden)
    series: set[str]  # doc ids of its own series among them, hidden or not
    earlier: DocumentRuns | None  # the match in the earliest dated of them, when that is another document
    summaries: Mapping[str, DocumentSummary]
    shared: tuple[int, int]
    shared_documents: int


def _reach(view: ReuseView, passage: Passage, allowed, hide_series: bool, covered: set[int]) -> ReusedPassage | None:
    """How far the passage's wording went (documents, dates, series), told from the earliest dated document
    holding it: when that is another document, its passage holding the first shared run is counted instead."""
    holders = _holders(view, passage, allowed, hide_series, covered)
    if holders is None:
        return None
    if holders.earlier is not None:
        earlier = _passage_at(view, holders.earlier.doc_id, int(holders.earlier.runs[0, 1]))
        again = _holders(view, earlier, allowed, hide_series, covered) if earlier is not None else None
        if earlier is not None and again is not None:
            passage, holders = earlier, again
    dated = sorted(d.metadata.date for d in holders.counted if d.metadata.date)
    return ReusedPassage(passage=passage, document=holders.summaries[passage.doc_id], documents=len(holders.counted),
                         series_documents=len(holders.series), first_date=dated[0] if dated else None,
                         last_date=dated[-1] if dated else None, shared=holders.shared,
                         shared_documents=holders.shared_documents)


def _holders(view: ReuseView, passage: Passage, allowed, hide_series: bool, covered: set[int]) -> _Holders | None:
    """None when no other document holds the wording. The passage's fingerprints join ``covered``."""
    form = reuse_form(passage.text)
    covered.update(int(h) for h in view.reuse.lengths.fingerprints(form.codes)[0])
    matches = view.reuse.matches(form.codes, allowed, exclude_doc=passage.doc_id)
    summaries = view.documents([passage.doc_id, *(m.doc_id for m in matches)])
    own = summaries.get(passage.doc_id)
    if own is None or not matches:
        return None
    key = series_key(own)
    others = [summaries[m.doc_id] for m in matches if m.doc_id in summaries]
    series = {d.doc_id for d in others if key is not None and series_key(d) == key}
    counted = [own] + [d for d in others if not (hide_series and d.doc_id in series)]
    if len(counted) < 2:
        return None
    first = min((d for d in counted if d.metadata.date), key=lambda d: (d.metadata.date or "", d.doc_id), default=None)
    earlier = None
    if first is not None and first.doc_id != own.doc_id and (own.metadata.date or "9999") > (first.metadata.date or ""):
        earlier = next(m for m in matches if m.doc_id == first.doc_id)
    kept = {d.doc_id for d in counted}
    start, end, sharing = most_shared(form, [m for m in matches if m.doc_id in kept])
    return _Holders(counted, series, earlier, summaries, form.span_in_text(start, end), sharing)


def most_shared(form: ReuseForm, matches: Sequence[DocumentRuns]) -> tuple[int, int, int]:
    """(start, end) in reuse-form characters of the longest stretch of the text that the most of these
    documents share, all of them the whole stretch, and how many they are."""
    runs = [match.runs for match in matches]
    bounds = np.unique(np.concatenate([np.r_[r[:, 0], r[:, 0] + r[:, 2]] for r in runs]))
    # Between two bounds, every document shares all or none of the text; a set of documents is told by the
    # sum of a random number per document.
    count = np.zeros(len(bounds) - 1, dtype=np.int64)
    signature = np.zeros(len(bounds) - 1, dtype=np.uint64)
    tags = np.random.default_rng(0).integers(1, 1 << 63, len(runs), dtype=np.uint64)
    for tag, r in zip(tags, runs, strict=True):
        covered = np.zeros(len(bounds) - 1, dtype=bool)
        for first, last in zip(np.searchsorted(bounds, r[:, 0]), np.searchsorted(bounds, r[:, 0] + r[:, 2]), strict=True):
            covered[first:last] = True
        count += covered
        signature[covered] += tag
    most = int(count.max())
    best = (0, 0)
    at = 0
    while at < len(count):
        if count[at] != most:
            at += 1
            continue
        end = at + 1
        while end < len(count) and count[end] == most and signature[end] == signature[at]:
            end += 1
        if bounds[end] - bounds[at] > best[1] - best[0]:
            best = (int(bounds[at]), int(bounds[end]))
        at = end
    return best[0], best[1], most
