"""The JSON shapes of the API (docs/api.md), each defined once: these frozen records are what the web API, the
CLI's --json and the MCP tools send, and pydantic both writes them as JSON and describes them in the OpenAPI schema.

Fields come out in the order declared here, which is the order clients have always seen. A field whose
value is None is left out only where it says so (`exclude_if`): the rest are sent as null. Success bodies
allow extra fields in their schema, because the contract lets fields be added; error bodies have exactly
one shape. Records rather than pydantic models: building one per hit costs a fraction of a model's
validation, and their values come from the service, already checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from pydantic import ConfigDict, Field, TypeAdapter

from qa import types as records
from qa.ingest.pipeline import IngestReport
from qa.search.facets import KINDS as FACET_KINDS
from qa.search.facets import Facets
from qa.search.jobs import Job
from qa.search.phrase import PhraseTimeline as Timeline
from qa.search.phrase import period_bounds
from qa.search.service import SearchResult

Span = tuple[int, int]
OPEN = ConfigDict(extra="allow")  # the schema's additionalProperties: a client must take added fields


def _absent(value: object) -> bool:
    return value is None


_ADAPTERS: dict[type, TypeAdapter[Any]] = {}


def adapter(shape: type) -> TypeAdapter[Any]:
    """The writer of one shape, built once."""
    if shape not in _ADAPTERS:
        _ADAPTERS[shape] = TypeAdapter(shape)
    return _ADAPTERS[shape]


class _Shape:
    def data(self) -> dict[str, Any]:
        """The JSON object, as Python values (for the CLI and the MCP tools)."""
        return adapter(type(self)).dump_python(self, mode="json")

    def json(self) -> bytes:
        """The JSON object as the API sends it."""
        return adapter(type(self)).dump_json(self)


@dataclass(frozen=True)
class ErrorDetail:
    __pydantic_config__ = ConfigDict(extra="forbid")

    code: Annotated[str, Field(description="stable machine-readable reason, e.g. bad_input, not_found, too_large")]
    message: Annotated[str, Field(description="human-readable, says what to change")]


@dataclass(frozen=True)
class ErrorBody(_Shape):
    __pydantic_config__ = ConfigDict(extra="forbid")

    error: ErrorDetail

    @classmethod
    def of(cls, code: str, message: str) -> ErrorBody:
        return cls(error=ErrorDetail(code=code, message=message))


@dataclass(frozen=True)
class Citation(_Shape):
    __pydantic_config__ = OPEN

    title: str | None
    date: str | None
    speaker: str | None
    place: str | None
    source: str | None
    section: str | None
    char_start: int
    char_end: int
    url: str

    @classmethod
    def of(cls, passage: records.Passage, document: records.DocumentSummary) -> Citation:
        meta = document.metadata
        return cls(title=meta.title, date=meta.date, speaker=meta.speaker, place=meta.place, source=document.source,
                   section=passage.section, char_start=passage.char_start, char_end=passage.char_end,
                   url=f"/doc/{passage.doc_id}#{passage.chunk_id}")


@dataclass(frozen=True)
class Hit(_Shape):
    __pydantic_config__ = OPEN

    rank: int
    score: float
    chunk_id: str
    doc_id: str
    text: str
    highlights: Annotated[list[Span], Field(description="[start, end) offsets into text of the answering sentences")]
    duplicates: int
    citation: Citation
    query_highlights: Annotated[list[Span] | None, Field(exclude_if=_absent, description="similar passages: shared "
                                                                                         "wording in the source text")] = None

    @classmethod
    def of(cls, hit: records.Hit, query_highlights: list[Span] | None = None) -> Hit:
        passage = hit.passage
        return cls(rank=hit.rank, score=hit.score, chunk_id=passage.chunk_id, doc_id=passage.doc_id, text=passage.text,
                   highlights=list(hit.highlights), duplicates=hit.duplicates, citation=Citation.of(passage, hit.document),
                   query_highlights=query_highlights)


@dataclass(frozen=True)
class SourcePassage(_Shape):
    __pydantic_config__ = OPEN

    chunk_id: str
    doc_id: str
    text: str


@dataclass(frozen=True)
class FacetValue(_Shape):
    __pydantic_config__ = OPEN

    value: str
    count: int


@dataclass(frozen=True)
class AppliedFilter(_Shape):
    __pydantic_config__ = OPEN

    kind: Annotated[str, Field(description="date or speaker")]
    value: Annotated[str, Field(description="as the query reading gives it: 2024, 2025-11, 賴清德")]
    source: Annotated[str, Field(description="query: read from the question")]


def _facets(facets: Facets) -> dict[str, list[FacetValue]]:
    return {kind: [FacetValue(value=v.value, count=v.count) for v in getattr(facets, kind)] for kind in FACET_KINDS}


@dataclass(frozen=True)
class SearchResponse(_Shape):
    __pydantic_config__ = OPEN

    query: str
    mode: str
    took_ms: float
    results: list[Hit]
    source: Annotated[SourcePassage | None, Field(exclude_if=_absent,
                                                  description="similar passages started from a stored passage")] = None
    facets: Annotated[dict[str, list[FacetValue]] | None,
                      Field(exclude_if=_absent, description="searches: year, speaker and source counts")] = None
    preferences: Annotated[dict[str, list[str] | bool] | None, Field(
        exclude_if=_absent,
        description="what the question names (dates, speakers) and whether it favoured documents that fit them "
                    "(`applied`; turn off with prefer=false)")] = None
    applied_filters: Annotated[list[AppliedFilter], Field(
        description="each named date and speaker that favoured documents; switch one off with "
                    "ignore_filter=kind:value, all with prefer=false")] = field(default_factory=list)

    @classmethod
    def of(cls, result: SearchResult) -> SearchResponse:
        spans = result.source_spans
        source = result.source
        return cls(
            query=result.query,
            mode=result.mode,
            took_ms=result.took_ms,
            results=[Hit.of(hit, list(spans.get(hit.passage.chunk_id, [])) if spans else None) for hit in result.hits],
            source=SourcePassage(chunk_id=source.chunk_id, doc_id=source.doc_id, text=source.text) if source else None,
            facets=_facets(result.facets) if result.facets is not None else None,
            preferences={**result.preferences, "applied": result.preferences_applied} if result.preferences else None,
            applied_filters=[AppliedFilter(kind=kind, value=value, source="query")
                             for kind, value in result.applied_filters],
        )


@dataclass(frozen=True)
class Occurrence(_Shape):
    __pydantic_config__ = OPEN

    rank: int
    chunk_id: str
    doc_id: str
    text: str
    highlights: list[Span]
    citation: Citation
    match: Annotated[Span, Field(description="[start, end) of the phrase in the document's text")]

    @classmethod
    def of(cls, hit: records.Hit) -> Occurrence:
        assert hit.match is not None, "an occurrence is a hit with its match"
        passage = hit.passage
        return cls(rank=hit.rank, chunk_id=passage.chunk_id, doc_id=passage.doc_id, text=passage.text,
                   highlights=list(hit.highlights), citation=Citation.of(passage, hit.document), match=hit.match)


@dataclass(frozen=True)
class Period(_Shape):
    __pydantic_config__ = OPEN

    period: str
    occurrences: int
    documents: int
    date_from: str | None
    date_to: str | None


@dataclass(frozen=True)
class Usage(_Shape):
    __pydantic_config__ = OPEN

    value: str
    documents: int
    occurrences: int


@dataclass(frozen=True)
class PhraseTimeline(_Shape):
    __pydantic_config__ = OPEN

    phrase: str
    took_ms: float
    granularity: str
    total_occurrences: int
    total_documents: int
    undated_occurrences: int
    first: Occurrence | None
    series: list[Period]
    by_speaker: list[Usage]
    by_source: list[Usage]
    occurrences: list[Occurrence]
    offset: int
    limit: int
    search_url: Annotated[str | None, Field(exclude_if=_absent,
                                            description="when the phrase does not occur: a search for it instead")] = None

    @classmethod
    def of(cls, timeline: Timeline) -> PhraseTimeline:
        return cls(
            phrase=timeline.phrase,
            took_ms=timeline.took_ms,
            granularity=timeline.granularity,
            total_occurrences=timeline.total_occurrences,
            total_documents=timeline.total_documents,
            undated_occurrences=timeline.undated_occurrences,
            first=Occurrence.of(timeline.first) if timeline.first else None,
            series=[Period(period=p.period, occurrences=p.occurrences, documents=p.documents,
                           date_from=period_bounds(p.period)[0], date_to=period_bounds(p.period)[1])
                    for p in timeline.series],
            by_speaker=[Usage(value=u.value, documents=u.documents, occurrences=u.occurrences) for u in timeline.by_speaker],
            by_source=[Usage(value=u.value, documents=u.documents, occurrences=u.occurrences) for u in timeline.by_source],
            occurrences=[Occurrence.of(hit) for hit in timeline.occurrences],
            offset=timeline.offset,
            limit=timeline.limit,
            search_url=None if timeline.total_occurrences else "/search?" + urlencode({"q": timeline.phrase}),
        )


@dataclass(frozen=True)
class DocumentSummary(_Shape):
    __pydantic_config__ = OPEN

    doc_id: str
    title: str | None
    date: str | None
    date_kind: str | None
    speaker: str | None
    place: str | None
    source: str | None
    sources: list[str]
    script: str
    n_chunks: int

    @classmethod
    def of(cls, document: records.DocumentSummary, n_chunks: int) -> DocumentSummary:
        return cls(**_summary(document, n_chunks))


def _summary(document: records.DocumentSummary, n_chunks: int) -> dict[str, Any]:
    meta = document.metadata
    return {"doc_id": document.doc_id, "title": meta.title, "date": meta.date, "date_kind": meta.date_kind,
            "speaker": meta.speaker, "place": meta.place, "source": document.source, "sources": list(document.sources),
            "script": document.script, "n_chunks": n_chunks}


@dataclass(frozen=True)
class DocumentsPage(_Shape):
    __pydantic_config__ = OPEN

    documents: list[DocumentSummary]
    total: int
    offset: int
    limit: int

    @classmethod
    def of(cls, rows: list[tuple[records.DocumentSummary, int]], total: int, offset: int, limit: int) -> DocumentsPage:
        return cls(documents=[DocumentSummary.of(d, n) for d, n in rows], total=total, offset=offset, limit=limit)


@dataclass(frozen=True)
class ChunkSpan(_Shape):
    __pydantic_config__ = OPEN

    chunk_id: str
    char_start: int
    char_end: int
    section: str | None


@dataclass(frozen=True)
class DocumentDetail(DocumentSummary):
    __pydantic_config__ = OPEN

    content_hash: str
    text: str
    chunks: list[ChunkSpan]

    @classmethod
    def of_document(cls, document: records.Document, passages: list[records.Passage]) -> DocumentDetail:
        return cls(**_summary(document, len(passages)), content_hash=document.content_hash, text=document.text,
                   chunks=[ChunkSpan(chunk_id=p.chunk_id, char_start=p.char_start, char_end=p.char_end, section=p.section)
                           for p in passages])


@dataclass(frozen=True)
class RejectedInput(_Shape):
    __pydantic_config__ = OPEN

    source: str
    reason: str


@dataclass(frozen=True)
class UploadReport(_Shape):
    __pydantic_config__ = OPEN

    added: list[str]
    updated: list[str]
    duplicates: list[str]
    rejected: list[RejectedInput]

    @classmethod
    def of(cls, report: IngestReport) -> UploadReport:
        return cls(added=report.added, updated=report.updated, duplicates=report.duplicates,
                   rejected=[RejectedInput(source=r.source, reason=r.reason) for r in report.rejections()])


@dataclass(frozen=True)
class UploadCounts(_Shape):
    """What an upload came to so far, as the CLI's summary counts it."""

    __pydantic_config__ = OPEN

    added: int
    updated: int
    duplicates: int
    rejected: int


@dataclass(frozen=True)
class JobStatus(_Shape):
    """An upload added in the background (202 Accepted): where it stands, what it has committed so far,
    and once it has ended its report."""

    __pydantic_config__ = OPEN

    job: str
    url: Annotated[str, Field(description="GET it for this status; the upload's answer names it in Location too")]
    status: Annotated[str, Field(description="queued, running, done, failed or stopped (the server stopped)")]
    files: list[str]
    counts: UploadCounts
    report: Annotated[UploadReport | None, Field(description="once the job has ended: what an upload answers")] = None
    error: ErrorDetail | None = None

    @classmethod
    def of(cls, job: Job, shown: Callable[[str], str] = str) -> JobStatus:
        """The job's status; `shown` gives an error's message as the client may see it."""
        report = job.report
        return cls(job=job.id, url=job.url, status=job.status, files=list(job.files),
                   counts=UploadCounts(**report.counts()), report=UploadReport.of(report) if job.ended else None,
                   error=ErrorDetail(code=job.error.code, message=shown(str(job.error))) if job.error else None)


@dataclass(frozen=True)
class Deleted(_Shape):
    __pydantic_config__ = OPEN

    deleted: str


@dataclass(frozen=True)
class Health(_Shape):
    """Ready, the collection's figures (the recall null for an exact index); not ready, why there is none to
    serve, and no recall."""

    __pydantic_config__ = OPEN

    status: Annotated[str, Field(description="ok, or not_ready (with error) while there is no collection to serve")]
    documents: int
    chunks: int
    model: str | None
    index: str | None
    index_recall_at_10: float | None = None
    error: ErrorDetail | None = None

    @classmethod
    def ready(cls, stats: dict[str, Any]) -> Health:
        return cls(status="ok", **stats)

    @classmethod
    def not_ready(cls, code: str, message: str) -> Health:
        return cls(status="not_ready", documents=0, chunks=0, model=None, index=None,
                   error=ErrorDetail(code=code, message=message))

    def data(self) -> dict[str, Any]:
        return adapter(Health).dump_python(self, mode="json", exclude=self._left_out())

    def json(self) -> bytes:
        return adapter(Health).dump_json(self, exclude=self._left_out())

    def _left_out(self) -> set[str]:
        return {"index_recall_at_10"} if self.error else {"error"}
