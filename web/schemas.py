"""The JSON bodies of the API as pydantic models, for its OpenAPI description.

The routes build plain dicts (qa/serialize.py) and send them as they are; these models only tell
clients and schema-driven fuzzers what to expect. Success bodies allow extra fields, because the
contract lets fields be added (../shared/API.md); error bodies have exactly one shape.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="stable machine-readable reason, e.g. bad_input, not_found, too_large")
    message: str = Field(description="human-readable, says what to change")


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error: ErrorDetail


Span = tuple[int, int]


class Citation(_Open):
    title: str | None
    date: str | None
    speaker: str | None
    place: str | None
    source: str | None
    section: str | None
    char_start: int
    char_end: int
    url: str


class Hit(_Open):
    rank: int
    score: float
    chunk_id: str
    doc_id: str
    text: str
    highlights: list[Span] = Field(description="[start, end) offsets into text of the answering sentences")
    duplicates: int
    citation: Citation
    query_highlights: list[Span] | None = Field(None, description="similar passages: shared wording in the source text")


class SourcePassage(_Open):
    chunk_id: str
    doc_id: str
    text: str


class FacetValue(_Open):
    value: str
    count: int


class AppliedFilter(_Open):
    kind: str = Field(description="date or speaker")
    value: str = Field(description="as the query reading gives it: 2024, 2025-11, 賴清德")
    source: str = Field(description="query: read from the question")


class SearchResponse(_Open):
    query: str
    mode: str
    took_ms: float
    results: list[Hit]
    source: SourcePassage | None = Field(None, description="similar passages started from a stored passage")
    facets: dict[str, list[FacetValue]] | None = Field(None, description="searches: year, speaker and source counts")
    preferences: dict[str, list[str] | bool] | None = Field(
        None, description="what the question names (dates, speakers) and whether it favoured documents that fit them "
                          "(`applied`; turn off with prefer=false)")
    applied_filters: list[AppliedFilter] = Field(
        default_factory=list, description="each named date and speaker that favoured documents; switch one off with "
                                          "ignore_filter=kind:value, all with prefer=false")


class Occurrence(_Open):
    rank: int
    chunk_id: str
    doc_id: str
    text: str
    highlights: list[Span]
    match: Span = Field(description="[start, end) of the phrase in text")
    citation: Citation


class Period(_Open):
    period: str
    occurrences: int
    documents: int
    date_from: str | None
    date_to: str | None


class Usage(_Open):
    value: str
    documents: int
    occurrences: int


class PhraseTimeline(_Open):
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
    search_url: str | None = Field(None, description="when the phrase does not occur: a search for it instead")


class DocumentSummary(_Open):
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


class DocumentsPage(_Open):
    documents: list[DocumentSummary]
    total: int
    offset: int
    limit: int


class ChunkSpan(_Open):
    chunk_id: str
    char_start: int
    char_end: int
    section: str | None


class DocumentDetail(DocumentSummary):
    content_hash: str
    text: str
    chunks: list[ChunkSpan]


class RejectedInput(_Open):
    source: str
    reason: str


class UploadReport(_Open):
    added: list[str]
    updated: list[str]
    duplicates: list[str]
    rejected: list[RejectedInput]


class Deleted(_Open):
    deleted: str


class Health(_Open):
    status: str = Field(description="ok, or not_ready (with error) while there is no collection to serve")
    documents: int
    chunks: int
    model: str | None
    index: str | None
    index_recall_at_10: float | None = None
    error: ErrorDetail | None = None


_STATUS_WORDS = {
    400: "bad input: the message says which field and what to change",
    401: "a token is needed for changes: send 'Authorization: Bearer <token>'",
    403: "wrong token, changes disabled on a public address, or a change from another site's page",
    404: "no such document, passage or endpoint",
    405: "method not allowed here; the Allow header lists those that are",
    413: "the upload is over the size limit",
    414: "the URL is too long: send long text in a POST body",
    421: "the Host header names a host this server does not answer to",
    422: "the request does not parse: a missing field, or a value of the wrong type",
    503: "no collection is built yet, or it was built with another model; the message names the command",
}


def success(model: type[BaseModel], *, downloads: bool = False) -> dict[int | str, dict]:
    """The 200 entry of `responses`: the JSON body, and for format=csv|jsonl the download types."""
    entry: dict = {"model": model, "description": "the JSON body" + (", or with format=csv|jsonl a download" if downloads else "")}
    if downloads:
        entry["content"] = {"text/csv": {"schema": {"type": "string"}},
                            "application/x-ndjson": {"schema": {"type": "string"}}}
    return {200: entry}


def error_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI `responses` entries for these error statuses, all with the one error body."""
    responses: dict[int | str, dict] = {}
    for status in statuses:
        entry: dict = {"model": ErrorBody, "description": _STATUS_WORDS[status]}
        if status == 405:
            entry["headers"] = {"Allow": {"description": "the methods this path answers", "schema": {"type": "string"}}}
        responses[status] = entry
    return responses
