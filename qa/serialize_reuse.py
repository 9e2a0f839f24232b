"""The JSON shapes of text reuse (docs/api.md: `/api/reuse`, `/api/reuse/top`), beside qa/serialize.py's others.

Kept apart because reuse has many records of its own; they build on the same `_Shape`, `Citation` and `Span`, so
they come out the same way and the contract's rules (added fields allowed, field order as declared) hold alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from pydantic import Field

from qa.search import reuse as reports
from qa.search import reuse_top
from qa.search.phrase import period_bounds
from qa.serialize import OPEN, Citation, Span, _Shape


@dataclass(frozen=True)
class SharedSpan(_Shape):
    __pydantic_config__ = OPEN

    source: Annotated[Span, Field(description="[start, end) in the source text (the passage's, or the pasted text)")]
    document: Annotated[Span, Field(description="[start, end) in the reusing document's text")]
    length: Annotated[int, Field(description="letters and digits shared, after script, width and punctuation are set aside")]


@dataclass(frozen=True)
class ReuseSource(_Shape):
    __pydantic_config__ = OPEN

    chunk_id: str | None
    doc_id: str | None
    text: str
    citation: Citation | None


@dataclass(frozen=True)
class ReusingDocument(_Shape):
    __pydantic_config__ = OPEN

    rank: int
    chunk_id: str
    doc_id: str
    text: Annotated[str, Field(description="the document's passage holding its first shared run: what the citation cites")]
    shared_chars: Annotated[int, Field(description="letters and digits of the source that the document shares")]
    share: Annotated[float, Field(description="shared_chars over the source's letters and digits")]
    spans: Annotated[list[Span], Field(description="[start, end) offsets into text of the shared wording")]
    source_spans: Annotated[list[Span], Field(description="[start, end) offsets into the source text of the same")]
    same_series: Annotated[bool, Field(description="a document of the source's own series (same source, same "
                                                   "title but for its numbers)")]
    citation: Citation
    longest: int
    earliest: Annotated[bool, Field(description="the earliest dated document holding the wording")]
    alignment: Annotated[list[SharedSpan], Field(description="each shared run: its span in the source text and in "
                                                            "the document's whole text")]

    @classmethod
    def of(cls, rank: int, reuse: reports.Reuse) -> ReusingDocument:
        passage = reuse.passage
        return cls(rank=rank, chunk_id=passage.chunk_id, doc_id=passage.doc_id, text=passage.text,
                   shared_chars=reuse.shared_chars, share=reuse.share, spans=reuse.highlights,
                   source_spans=reuse.source_highlights, same_series=reuse.same_series,
                   citation=Citation.of(passage, reuse.document), longest=reuse.longest, earliest=reuse.earliest,
                   alignment=[SharedSpan(source=s.source, document=s.document, length=s.length) for s in reuse.spans])


@dataclass(frozen=True)
class EarliestSource(_Shape):
    __pydantic_config__ = OPEN

    doc_id: str
    chunk_id: Annotated[str | None, Field(description="its passage holding the wording")]
    date: str | None
    title: str | None
    is_source: Annotated[bool, Field(description="the source passage's own document is the earliest")]


@dataclass(frozen=True)
class ReusePeriod(_Shape):
    __pydantic_config__ = OPEN

    period: str
    documents: int
    date_from: str | None
    date_to: str | None


@dataclass(frozen=True)
class SeriesGroup(_Shape):
    __pydantic_config__ = OPEN

    title: Annotated[str, Field(description="the series' title template, numbers as #")]
    source: str | None
    documents: int
    first_date: str | None
    last_date: str | None


@dataclass(frozen=True)
class ReuseResponse(_Shape):
    __pydantic_config__ = OPEN

    source: ReuseSource
    total_documents: Annotated[int, Field(description="documents that reuse the wording (the series' left out when hidden)")]
    earliest: EarliestSource | None
    series: Annotated[list[ReusePeriod], Field(description="reusing documents per period, every period from the "
                                                           "first to the last")]
    reuses: list[ReusingDocument]
    min_run: Annotated[int, Field(description="the shortest shared run that counts as reuse, in letters and digits")]
    took_ms: float
    granularity: str
    undated_documents: int
    series_documents: Annotated[int, Field(description="documents of the source's own series sharing its wording, "
                                                       "hidden or not")]
    series_group: SeriesGroup | None
    offset: int
    limit: int

    @classmethod
    def of(cls, report: reports.ReuseReport) -> ReuseResponse:
        passage, document = report.source_passage, report.source_document
        earliest, group = report.earliest, report.series
        return cls(
            source=ReuseSource(chunk_id=passage.chunk_id if passage else None, doc_id=passage.doc_id if passage else None,
                               text=report.source_text,
                               citation=Citation.of(passage, document) if passage and document else None),
            total_documents=report.total_documents,
            earliest=EarliestSource(doc_id=earliest.doc_id, chunk_id=report.earliest_chunk_id, date=earliest.metadata.date,
                                    title=earliest.metadata.title, is_source=report.source_is_earliest) if earliest else None,
            series=[ReusePeriod(period=p.period, documents=p.documents, date_from=period_bounds(p.period)[0],
                                date_to=period_bounds(p.period)[1]) for p in report.periods],
            reuses=[ReusingDocument.of(rank, reuse) for rank, reuse in enumerate(report.reuses, start=report.offset + 1)],
            min_run=report.min_run, took_ms=report.took_ms, granularity=report.granularity,
            undated_documents=report.undated_documents, series_documents=report.series_documents,
            series_group=SeriesGroup(title=group.title, source=group.source, documents=group.documents,
                                     first_date=group.first_date, last_date=group.last_date) if group else None,
            offset=report.offset, limit=report.limit,
        )


@dataclass(frozen=True)
class ReusedPassage(_Shape):
    __pydantic_config__ = OPEN

    rank: int
    chunk_id: str
    doc_id: str
    text: str
    documents: Annotated[int, Field(description="documents holding the passage's wording, its own included")]
    first_date: str | None
    last_date: str | None
    citation: Citation
    series_documents: int
    shared: Annotated[Span, Field(description="[start, end) in text of the wording the most of them share")]
    shared_documents: int
    reuse_url: str

    @classmethod
    def of(cls, rank: int, item: reuse_top.ReusedPassage) -> ReusedPassage:
        passage = item.passage
        return cls(rank=rank, chunk_id=passage.chunk_id, doc_id=passage.doc_id, text=passage.text,
                   citation=Citation.of(passage, item.document), documents=item.documents,
                   series_documents=item.series_documents, first_date=item.first_date, last_date=item.last_date,
                   shared=item.shared, shared_documents=item.shared_documents,
                   reuse_url="/reuse?" + urlencode({"chunk_id": passage.chunk_id}))


@dataclass(frozen=True)
class TopReuseResponse(_Shape):
    __pydantic_config__ = OPEN

    took_ms: float
    candidates_checked: int
    passages: list[ReusedPassage]

    @classmethod
    def of(cls, top: reuse_top.TopReuse) -> TopReuseResponse:
        return cls(took_ms=top.took_ms, candidates_checked=top.candidates_checked,
                   passages=[ReusedPassage.of(rank, item) for rank, item in enumerate(top.passages, start=1)])
