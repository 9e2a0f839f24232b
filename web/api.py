"""The JSON API (docs/api.md): each route reads its request, calls the service, answers with a qa.serialize shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import Response

from qa.errors import BadInputError, TooLargeError
from qa.search.export import check_format, export
from qa.search.jobs import Job, needs_a_job
from qa.search.requests import MAX_PHRASE_LIMIT
from qa.serialize import (
    Deleted,
    DocumentDetail,
    DocumentsPage,
    ErrorBody,
    Health,
    JobStatus,
    PhraseTimeline,
    SearchResponse,
    UploadReport,
)
from qa.serialize_reuse import ReuseResponse, TopReuseResponse
from qa.settings import Settings
from qa.types import Hit
from web.deps import (
    AppSettings,
    DocumentsQuery,
    Jobs,
    PhraseQuery,
    ReuseBody,
    ReuseQuery,
    SearchBody,
    SearchQuery,
    Service,
    SimilarBody,
    TopReuseQuery,
    Writer,
)
from web.errors import public_message, too_large_message

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
    501: "the collection's backend does not offer this (text reuse needs the embedded backend)",
    503: "no collection is built yet, or it was built with another model; the message names the command",
    507: "the disk holding the collection is full: searches go on, changes wait until there is space",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these error statuses, all with the one error body."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {"model": ErrorBody, "description": _STATUS_WORDS[status]}
        if status == 405:
            entry["headers"] = {"Allow": {"description": "the methods this path answers", "schema": {"type": "string"}}}
        responses[status] = entry
    return responses


# format=csv|jsonl answers the same results as a download instead.
DOWNLOADS: dict[int | str, dict[str, Any]] = {200: {"description": "the JSON body, or with format=csv|jsonl a download",
                   "content": {"text/csv": {"schema": {"type": "string"}}, "application/x-ndjson": {"schema": {"type": "string"}}}}}
ExportFormat = Annotated[str | None, Query(description="csv or jsonl: the passages as a download",
                                           json_schema_extra={"enum": ["csv", "jsonl", ""]})]


def answer(shape: Health | SearchResponse | PhraseTimeline | ReuseResponse | TopReuseResponse | DocumentsPage
           | DocumentDetail | UploadReport | Deleted | JobStatus, status: int = 200,
           headers: dict[str, str] | None = None) -> Response:
    """The shape's JSON, written by pydantic and sent as it is (FastAPI's response_model only describes it)."""
    return Response(shape.json(), status_code=status, media_type="application/json", headers=headers)


# Every API route may answer these; the guard's 414/421 come before any route.
api = APIRouter(responses=error_responses(400, 404, 405, 414, 421, 422, 503))


@api.get("/healthz", response_model=Health,
         responses={503: {"model": Health, "description": "no collection to serve yet"}})
def healthz(request: Request):
    stats, problem = request.app.state.holder.readiness()
    if problem is not None:
        message = public_message(str(problem), request.app.state.settings)
        return answer(Health.not_ready(problem.code, message), status=503)
    return answer(Health.ready(stats))


@api.get("/api/search", response_model=SearchResponse, responses=DOWNLOADS)
def api_search(request: Request, service: Service, search: SearchQuery, format: ExportFormat = None):
    fmt = check_format(format)
    result = service.search(search)
    if fmt:
        return download(request, result.hits, fmt, "speechqa-search")
    return answer(SearchResponse.of(result))


@api.post("/api/search", response_model=SearchResponse)
def api_search_post(search: SearchBody, service: Service):
    return answer(SearchResponse.of(service.search(search)))


@api.post("/api/similar", response_model=SearchResponse)
def api_similar(similar: SimilarBody, service: Service):
    return answer(SearchResponse.of(service.similar(similar)))


@api.get("/api/phrase", response_model=PhraseTimeline, responses=DOWNLOADS)
def api_phrase(request: Request, service: Service, phrase: PhraseQuery, format: ExportFormat = None):
    fmt = check_format(format)
    if fmt and "limit" not in phrase.model_fields_set:  # a download lists every occurrence unless told otherwise
        phrase = phrase.model_copy(update={"limit": MAX_PHRASE_LIMIT})
    timeline = service.phrase(phrase)
    if fmt:
        return download(request, timeline.occurrences, fmt, "speechqa-phrase")
    return answer(PhraseTimeline.of(timeline))


@api.get("/api/reuse", response_model=ReuseResponse, responses=error_responses(501))
def api_reuse(service: Service, reuse: ReuseQuery):
    return answer(ReuseResponse.of(service.reuse(reuse)))


@api.post("/api/reuse", response_model=ReuseResponse, responses=error_responses(501))
def api_reuse_post(reuse: ReuseBody, service: Service):
    return answer(ReuseResponse.of(service.reuse(reuse)))


@api.get("/api/reuse/top", response_model=TopReuseResponse, responses=error_responses(501))
def api_reuse_top(service: Service, top: TopReuseQuery):
    return answer(TopReuseResponse.of(service.reuse_top(top)))


@api.get("/api/documents", response_model=DocumentsPage)
def api_documents(service: Service, listing: DocumentsQuery):
    listing = listing.checked()
    rows, total = service.documents(listing.offset, listing.limit)
    return answer(DocumentsPage.of(rows, total, listing.offset, listing.limit))


@api.get("/api/documents/{doc_id}", response_model=DocumentDetail)
def api_document(doc_id: str, service: Service):
    return answer(DocumentDetail.of_document(*service.document(doc_id)))


ACCEPTED: dict[int | str, dict[str, Any]] = {202: {"model": JobStatus, "description": "added in the background (an upload over 1 MB once decompressed, "
                                                     "or one sent while another is being added): GET the job's URL, "
                                                     "also in Location, for its progress and then its report"}}


@api.post("/api/documents", response_model=UploadReport, responses={**ACCEPTED, **error_responses(401, 403, 413, 507)})
def api_upload(_: Writer, settings: AppSettings, service: Service, jobs: Jobs,
               files: Annotated[list[UploadFile], File(description="one or more files", json_schema_extra={"minItems": 1})]):
    contents = uploaded(files, settings.max_upload_bytes)
    if jobs.busy() or needs_a_job(contents, settings.max_file_bytes):
        job = service.changes.add_files_later(jobs, contents, max_file_bytes=settings.max_file_bytes)
        return answer(job_status(job, settings), status=202, headers={"Location": job.url})
    report = service.changes.add_files(contents, max_file_bytes=settings.max_file_bytes)
    return answer(UploadReport.of(report))


@api.get("/api/jobs/{job_id}", response_model=JobStatus)
def api_job(job_id: str, settings: AppSettings, jobs: Jobs):
    return answer(job_status(jobs.get(job_id), settings))


def job_status(job: Job, settings: Settings) -> JobStatus:
    return JobStatus.of(job, lambda message: public_message(message, settings))


@api.delete("/api/documents/{doc_id}", response_model=Deleted, responses=error_responses(401, 403, 507))
def api_delete(doc_id: str, _: Writer, service: Service):
    service.changes.remove_document(doc_id)
    return answer(Deleted(deleted=doc_id))


def uploaded(files: list[UploadFile], limit: int) -> list[tuple[str, bytes]]:
    """The request's files as (name, contents), `limit` bytes at most in all; the service reads and cites them."""
    files = [f for f in files if f.filename or f.size]
    if not files:
        raise BadInputError("no files in the upload: send them as multipart field 'files'")
    contents = []
    total = 0
    for number, upload in enumerate(files):
        data = upload.file.read(limit + 1 - total)
        total += len(data)
        if total > limit:  # a chunked request gives no length up front; only limit + 1 bytes were read
            raise TooLargeError(too_large_message(limit))
        contents.append((upload.filename or f"upload-{number}.txt", data))
    return contents


def download(request: Request, hits: Sequence[Hit], fmt: str, name: str) -> Response:
    file = export(hits, fmt, str(request.base_url), name)
    return Response(file.body, media_type=file.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{file.filename}"'})


def as_sent_in_url(openapi: dict[str, Any]) -> dict[str, Any]:
    """The description's query parameters as a URL can send them: a URL has no null (it leaves a parameter
    out) and repeats a parameter for a list, so a list-or-text field of a body is a list there."""
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("in") != "query" or "anyOf" not in schema:
                    continue
                kinds = [kind for kind in schema.pop("anyOf") if kind.get("type") != "null"]
                kinds = [kind for kind in kinds if kind.get("type") == "array"][:1] or kinds
                if len(kinds) == 1:
                    schema.update(kinds[0])
                elif kinds:
                    schema["anyOf"] = kinds
    return openapi
