"""FastAPI app: the JSON API of ../shared/API.md and its server-rendered pages. Routes only fetch and render."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, File, Form, Header, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.routing import Match

from qa.app import ServiceHolder
from qa.errors import BadInputError, ForbiddenError, SpeechQAError, TooLargeError, UnauthorizedError
from qa.search.export import check_format, export
from qa.search.phrase import (
    GRANULARITIES,
    MAX_PHRASE_CHARS,
    MIN_PHRASE_CHARS,
    PhraseRequest,
    period_bounds,
)
from qa.search.phrase import MAX_LIMIT as PHRASE_LIMIT
from qa.search.service import MAX_K, MODES, SearchRequest, SearchService
from qa.serialize import document_detail, document_summary, result_to_dict, timeline_to_dict
from qa.settings import Settings
from qa.text.normalize import drop_surrogates
from qa.types import Hit, PassageFilter
from web import schemas, security
from web.render import register_filters

log = logging.getLogger("speechqa.web")
HERE = Path(__file__).parent
UPLOAD_PATHS = ("/api/documents", "/documents")
MAX_QUERY_CHARS = Settings.max_query_chars
MAX_LIMIT = 500
MAX_OFFSET = 1_000_000_000  # far past any collection, well inside SQLite's 64-bit integers
# A GET query of 2,000 characters is at most 18 KB percent-encoded; longer text goes in a POST body.
MAX_URL_BYTES = 64 * 1024
# The server reads request heads up to this size (uvicorn refuses larger ones itself, as text/plain),
# so that a too-long URL below it is answered here, in the API's error shape.
MAX_REQUEST_HEAD_BYTES = 4 * 1024 * 1024
UPLOAD_FRAMING_BYTES = 256 * 1024

templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescape is on for every template
register_filters(templates.env)


# -- what a request may say: its bodies and parameters, each declared once -------------------
def _bounds(**schema: object) -> dict:
    """Bounds stated in the OpenAPI description. The search service enforces them (400, with a message
    that says what to change) for the API, the pages and the CLI alike, so they are not checked twice."""
    return {"json_schema_extra": schema}


# What the services take as "not empty": a character that str.strip() keeps (and, for queries, that
# is no control character). Spelled out, so that Python and JSON-schema regexes read it alike.
_WHITESPACE = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
HAS_TEXT = f"[^{_WHITESPACE}]"
HAS_QUERY_TEXT = rf"[^{_WHITESPACE}\x00-\x08\x0e-\x1f\x7f]"
HAS_TWO_CHARACTERS = rf"{HAS_TEXT}[\s\S]*{HAS_TEXT}"  # what a phrase keeps after strip() is 2+ characters long


def _in_query(**schema: object) -> dict:
    """`_bounds` for an optional query parameter: a URL has no null, it leaves the parameter out, so the
    schema says only what can be sent."""

    def update(field: dict) -> None:
        kinds = [kind for kind in field.pop("anyOf", []) if kind.get("type") != "null"]
        if len(kinds) == 1:
            field.update(kinds[0])
        elif kinds:
            field["anyOf"] = kinds
        field.update(schema)

    return {"json_schema_extra": update}


# An empty date is no filter (the pages' forms send one): the schema says so.
ISO_DATE = _bounds(anyOf=[{"type": "string", "format": "date"}, {"type": "string", "maxLength": 0}, {"type": "null"}])
QUERY_DATE = _in_query(anyOf=[{"type": "string", "format": "date"}, {"type": "string", "maxLength": 0}])
EXPORT_FORMAT = _in_query(enum=["csv", "jsonl", ""])

# The words and bounds of the search parameters, alike in a URL's query and in a POST body.
QUERY_HELP = "question or pasted text, any script, 1-2,000 characters"
QUERY_BOUNDS = _bounds(minLength=1, maxLength=MAX_QUERY_CHARS, pattern=HAS_QUERY_TEXT)
K_HELP = f"passages, 1-{MAX_K}"
K_BOUNDS = _bounds(minimum=1, maximum=MAX_K)
MODE_HELP = "hybrid, dense or lexical"
MODE_BOUNDS = _bounds(enum=list(MODES))
DATE_HELP = "ISO date, inclusive, on the speech's date"
SPEAKER_HELP = "restrict to speeches by this speaker"
SOURCE_HELP = "only documents from this site or file (a value of facets.source or by_source)"
PREFER_HELP = ("let the dates and speakers the question names favour documents that fit them (hybrid mode; a soft "
               "preference, never a filter; the response's `preferences` says what was read); false turns it off")
# One named date or speaker to switch off, as the service reads it (qa.search.query.parse_switched_off), or a blank.
IGNORE_FILTER_ITEM = {"type": "string",
                      "pattern": rf"^[{_WHITESPACE}]*$|^[{_WHITESPACE}]*(date|speaker)[{_WHITESPACE}]*:[\s\S]*{HAS_TEXT}"}
IGNORE_FILTER_HELP = ("switch off one date or speaker the question names, as applied_filters lists it: date:2024, "
                      "speaker:賴清德 (repeatable)")

QueryText = Field(..., description=QUERY_HELP, **QUERY_BOUNDS)
PassageCount = Field(10, description=K_HELP, **K_BOUNDS)
ModeName = Field("hybrid", description=MODE_HELP, **MODE_BOUNDS)
BodyDate = Field(None, description=DATE_HELP, **ISO_DATE)
SwitchedOff = Field(default_factory=list, description=IGNORE_FILTER_HELP,
                    **_bounds(anyOf=[{"type": "array", "items": IGNORE_FILTER_ITEM}, IGNORE_FILTER_ITEM]))
PastedText = Field(None, description="pasted text to compare; or give chunk_id",
                   **_bounds(maxLength=MAX_QUERY_CHARS, pattern=HAS_QUERY_TEXT))


class SearchBody(BaseModel):
    q: str = QueryText
    k: int = PassageCount
    mode: str = ModeName
    doc: list[str] | str = Field(default_factory=list, description="restrict to these document ids")
    date_from: str | None = BodyDate
    date_to: str | None = BodyDate
    speaker: str | None = Field(None, description=SPEAKER_HELP)
    source: str | None = Field(None, description=SOURCE_HELP)
    prefer: bool = Field(True, description=PREFER_HELP)
    ignore_filter: list[str] | str = SwitchedOff

    def to_request(self) -> SearchRequest:
        return SearchRequest(query=self.q, k=self.k, mode=self.mode,
                             doc_ids=_listed(self.doc),
                             date_from=self.date_from, date_to=self.date_to, speaker=self.speaker, source=self.source,
                             prefer=self.prefer, ignore_filters=_listed(self.ignore_filter))


def _listed(value: list[str] | str) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


class SimilarBody(BaseModel):
    # One of the two, as text: the schema says what the service asks for.
    model_config = {"json_schema_extra": {"anyOf": [
        {"required": ["text"], "properties": {"text": {"type": "string"}}},
        {"required": ["chunk_id"], "properties": {"chunk_id": {"type": "string", "minLength": 1}}},
    ]}}

    text: str | None = PastedText
    chunk_id: str | None = Field(None, description="start from a stored passage; its own document is left out")
    k: int = PassageCount
    exclude_doc: str | None = Field(None, description="leave out passages of this document")
    prefer: bool = Field(True, description=PREFER_HELP)
    ignore_filter: list[str] | str = SwitchedOff

    def stored_chunk(self) -> str | None:
        """chunk_id, once it is known to be text (a lone surrogate cannot name a stored passage)."""
        if self.chunk_id is not None and drop_surrogates(self.chunk_id) != self.chunk_id:
            raise BadInputError("chunk_id holds an unpaired surrogate (a lone \\ud800-\\udfff escape), which is not "
                                "text: take chunk ids from search results")
        return self.chunk_id


@dataclass(frozen=True)
class Pagination:
    offset: int
    limit: int


def pagination(
    offset: Annotated[int, Query(description="documents to skip", **_bounds(minimum=0, maximum=MAX_OFFSET))] = 0,
    limit: Annotated[int, Query(description=f"documents to list, 1-{MAX_LIMIT}", **_bounds(minimum=1, maximum=MAX_LIMIT))] = 50,
) -> Pagination:
    if not 0 <= offset <= MAX_OFFSET or not 1 <= limit <= MAX_LIMIT:
        raise BadInputError(f"offset must be between 0 and {MAX_OFFSET:,} and limit between 1 and {MAX_LIMIT}, "
                            f"not offset={offset}, limit={limit}")
    return Pagination(offset, limit)


Page = Annotated[Pagination, Depends(pagination)]


def checked_offset(offset: int) -> int:
    """An offset SQLite can take (its integers are 64-bit); the library checks that it is not negative."""
    if offset > MAX_OFFSET:
        raise BadInputError(f"offset must be at most {MAX_OFFSET:,}, not {offset}")
    return offset


SearchText = Annotated[str, Query(description=QUERY_HELP, **QUERY_BOUNDS)]
PhraseText = Annotated[str, Query(description=f"the exact phrase, either script, {MIN_PHRASE_CHARS}-{MAX_PHRASE_CHARS} characters",
                                  **_bounds(minLength=MIN_PHRASE_CHARS, maxLength=MAX_PHRASE_CHARS, pattern=HAS_TWO_CHARACTERS))]


def document_filter(
    doc: Annotated[list[str] | None, Query(description="restrict to this document id (repeatable)", **_in_query())] = None,
    date_from: Annotated[str | None, Query(description=DATE_HELP, **QUERY_DATE)] = None,
    date_to: Annotated[str | None, Query(description=DATE_HELP, **QUERY_DATE)] = None,
    speaker: Annotated[str | None, Query(description=SPEAKER_HELP, **_in_query())] = None,
    source: Annotated[str | None, Query(description=SOURCE_HELP, **_in_query())] = None,
) -> PassageFilter:
    """The documents a search or a phrase timeline looks in: the same query parameters for both, API and pages.
    An empty value is no filter (the pages' forms send them); the services check the rest."""
    return PassageFilter(doc_ids=tuple(doc or ()), date_from=date_from, date_to=date_to, speaker=speaker, source=source)


Where = Annotated[PassageFilter, Depends(document_filter)]


def search_options(
    where: Where,
    k: Annotated[int, Query(description=K_HELP, **K_BOUNDS)] = 10,
    mode: Annotated[str, Query(description=MODE_HELP, **MODE_BOUNDS)] = "hybrid",
    prefer: Annotated[bool, Query(description=PREFER_HELP)] = True,
    ignore_filter: Annotated[list[str] | None, Query(description=IGNORE_FILTER_HELP,
                                                     **_in_query(type="array", items=IGNORE_FILTER_ITEM))] = None,
) -> SearchRequest:
    """A URL's search parameters but the query text, for GET /api/search and the /search page alike. Each
    completes the request with its own `q`: the API requires one, the page without one shows the empty form."""
    return SearchRequest(query="", k=k, mode=mode, doc_ids=where.doc_ids, date_from=where.date_from,
                         date_to=where.date_to, speaker=where.speaker, source=where.source, prefer=prefer,
                         ignore_filters=tuple(ignore_filter or ()))


def phrase_options(
    where: Where,
    granularity: Annotated[str, Query(description="auto, month or year", **_bounds(enum=list(GRANULARITIES)))] = "auto",
    offset: Annotated[int, Query(description="occurrences to skip", **_bounds(minimum=0, maximum=MAX_OFFSET))] = 0,
) -> PhraseRequest:
    """A URL's phrase-timeline parameters but the phrase and the number listed, for GET /api/phrase and the /phrase
    page alike (each completes the request: their defaults differ)."""
    return PhraseRequest(phrase="", doc_ids=where.doc_ids, date_from=where.date_from, date_to=where.date_to,
                         speaker=where.speaker, source=where.source, granularity=granularity, offset=offset)


SearchOptions = Annotated[SearchRequest, Depends(search_options)]
PhraseOptions = Annotated[PhraseRequest, Depends(phrase_options)]


def _filter_form(request: SearchRequest | PhraseRequest) -> dict:
    """A page's filter fields as the user sent them (blank, not None, where one was left out)."""
    return {"doc": list(request.doc_ids), "date_from": request.date_from or "", "date_to": request.date_to or "",
            "speaker": request.speaker or "", "source": request.source or ""}


# -- dependencies ---------------------------------------------------------------
class AppServiceHolder(ServiceHolder):
    """Loads the collection and the model once; every request reuses them."""

    def readiness(self) -> tuple[dict | None, SpeechQAError | None]:
        """The collection's figures, or why there is none to serve yet: the health check and the home page
        report that rather than fail."""
        try:
            return self.get().stats(), None
        except SpeechQAError as exc:
            return None, exc


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_service(request: Request) -> SearchService:
    return request.app.state.holder.get()


AppSettings = Annotated[Settings, Depends(get_settings)]
Service = Annotated[SearchService, Depends(get_service)]


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def can_write(settings: Settings) -> bool:
    """Changes are open on loopback; anywhere else only with a token."""
    return settings.token is not None or _is_loopback(settings.host)


def writer_refusal(settings: Settings, authorization: str | None) -> SpeechQAError | None:
    """Why this request may not add or remove documents, or None when it may."""
    token = settings.token
    if token is None:
        if not _is_loopback(settings.host):
            return ForbiddenError("uploads and deletions are disabled on a public address without a token: "
                                  "restart the server with SPEECHQA_TOKEN set")
        return None
    if not authorization:
        return UnauthorizedError("this server needs a token for changes: send 'Authorization: Bearer <token>'")
    if not security.bearer_matches(authorization, token):
        return ForbiddenError("the token is wrong: send the value of SPEECHQA_TOKEN as 'Authorization: Bearer <token>'")
    return None


def check_writer(settings: Settings, authorization: str | None) -> None:
    """Raise unless this request may add or remove documents."""
    refusal = writer_refusal(settings, authorization)
    if refusal is not None:
        raise refusal


def require_writer(settings: AppSettings, authorization: Annotated[str | None, Header()] = None) -> None:
    check_writer(settings, authorization)


Writer = Annotated[None, Depends(require_writer)]


# -- errors ---------------------------------------------------------------------
def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path == "/api" or path in ("/healthz", "/openapi.json")


def error_response(request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """The one shape of every error: JSON for the API, an HTML page otherwise."""
    settings = request.app.state.settings
    message = public_message(message, settings)
    if _wants_json(request):
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "code": code, "message": message, "can_write": can_write(settings)},
        status_code=status, headers=headers,
    )


def public_message(message: str, settings: Settings) -> str:
    """A library message as HTTP clients see it: the server's own folders are named, not shown
    (the CLI prints them, for the person who owns them)."""
    for directory, name in ((settings.data_dir, "<data directory>"), (settings.cache_dir, "<cache directory>")):
        for shown in dict.fromkeys((str(directory), str(directory.expanduser()), str(directory.expanduser().resolve()))):
            if shown not in (".", "/"):
                message = message.replace(shown, name)
    return message


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method some route answers on this path (Starlette names only the first route's)."""
    routes = request.app.router.routes
    return ", ".join(method for method in _METHODS
                     if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes))


def _problem(error: dict) -> str:
    if error.get("type") == "json_invalid":
        return "request body: not valid JSON"
    parts = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header", "form")]
    return f"{'.'.join(parts) or 'request body'}: {error.get('msg')}"


@dataclass(frozen=True)
class FormPage:
    """A page whose form the user can fix bad input in: the template and what it shows besides the message."""

    template: str
    context: dict


def shows_bad_input(request: Request, template: str, **context: object) -> None:
    """From here on, a BadInputError of this request is shown on `template`, next to the form it came from,
    rather than on the error page (the handler below renders it)."""
    request.state.form_page = FormPage(template, context)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SpeechQAError)
    async def on_speechqa_error(request: Request, exc: SpeechQAError):
        form_page = getattr(request.state, "form_page", None)
        if isinstance(exc, BadInputError) and form_page is not None:
            return page(request, form_page.template, status=exc.status,
                        error=public_message(str(exc), request.app.state.settings), **form_page.context)
        return error_response(request, exc.status, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError):
        problems = "; ".join(_problem(err) for err in exc.errors())
        return error_response(request, 422, "invalid_request", f"fix these fields: {problems}")

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 404:
            return error_response(request, 404, "not_found", f"no page or endpoint at {request.url.path}; see /docs for the API")
        if exc.status_code == 405:
            allowed = _allowed_methods(request)
            return error_response(request, 405, "method_not_allowed",
                                  f"{request.method} is not allowed on {request.url.path}, only {allowed}; see /docs for the API",
                                  headers={"Allow": allowed})
        if exc.status_code == 413:  # the body limit of an upload sent without a length
            return error_response(request, 413, TooLargeError.code, _too_large_message(request.app.state.settings.max_upload_bytes))
        return error_response(request, exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return error_response(request, 500, "internal", "something went wrong on the server; the error was logged")

    app.add_middleware(GuardMiddleware, on_unexpected=on_unexpected)


class GuardMiddleware:
    """Checks every request before a route sees it, adds the security headers to every response, and
    answers unexpected errors itself.

    In order: the Host must be one this server answers (DNS rebinding); the URL must fit; a change must
    come from the server's own pages or carry the token (cross-site forms); an upload whose length is
    over the limit is refused, after the token check, before its body is read, so it never reaches the disk.

    Plain ASGI rather than ``@app.middleware("http")``: that wrapper runs every request through an
    extra task and stream, which cost about a millisecond per search.
    """

    def __init__(self, app, on_unexpected) -> None:
        self.app = app
        self.on_unexpected = on_unexpected

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        added = security.security_headers(scope["path"])

        async def secured_send(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in added:
                    headers.setdefault(name, value)
            await send(message)

        refusal = self._refusal(request)
        if refusal is not None:
            await refusal(scope, receive, secured_send)
            return
        app = self.app
        if scope["method"] == "POST" and scope["path"] in UPLOAD_PATHS:
            # An upload sent without a length (chunked) is read only up to the limit, so it cannot fill the disk
            # either; the slack covers the multipart framing around the files, which `uploaded` counts alone.
            app = RequestBodyLimitMiddleware(app, request.app.state.settings.max_upload_bytes + UPLOAD_FRAMING_BYTES)
        started = False

        async def tracking_send(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await secured_send(message)

        try:
            await app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # too late for an error page; the server closes the connection
                raise
            # Answered here, the server keeps the connection instead of logging a re-raised error.
            await (await self.on_unexpected(request, exc))(scope, receive, secured_send)

    def _refusal(self, request: Request) -> Response | None:
        settings: Settings = request.app.state.settings
        headers = request.headers
        host = headers.get("host")
        if not security.host_allowed(host, request.app.state.allowed_hosts):
            return error_response(request, 421, "unknown_host",
                                  f"this server does not answer to the host name {security.host_name(host or '')!r}; "
                                  "open it by its address, or add the name to SPEECHQA_ALLOWED_HOSTS")
        url_bytes = len(request.scope.get("raw_path") or b"") + len(request.scope.get("query_string") or b"")
        if url_bytes > MAX_URL_BYTES:
            return error_response(request, 414, "uri_too_long",
                                  f"the URL is {url_bytes:,} bytes long, over the limit of {MAX_URL_BYTES:,}; "
                                  "send long text in a POST body (POST /api/search or /api/similar)")
        if not security.is_change(request.method, request.url.path):
            return None
        authorization = headers.get("authorization")
        foreign = security.foreign_origin(headers.get("origin"), headers.get("referer"), host)
        if foreign is not None and not security.bearer_matches(authorization, settings.token):
            return error_response(request, 403, "cross_origin",
                                  f"changes are accepted only from this server's own pages, not from {foreign}; "
                                  "a script elsewhere must send 'Authorization: Bearer <token>' (SPEECHQA_TOKEN)")
        length = headers.get("content-length", "")
        if request.method == "POST" and request.url.path in UPLOAD_PATHS and length.isdigit():
            limit = settings.max_upload_bytes
            if int(length) > limit:
                # The API's token comes in a header and is checked before the size; the page's comes in
                # the form, unread here, so there only a server that takes no changes at all refuses first.
                refusal = writer_refusal(settings, authorization)
                if refusal is not None and (request.url.path.startswith("/api/") or settings.token is None):
                    return error_response(request, refusal.status, refusal.code, str(refusal))
                return error_response(request, 413, TooLargeError.code, _too_large_message(limit, int(length)))
        return None


def _too_large_message(limit: int, size: int | None = None) -> str:
    """`size` is None for a chunked upload, whose length is known only to be over the limit."""
    told = f"the upload is {_size(size)}, over the limit of {_size(limit)}" if size else f"the upload is over the limit of {_size(limit)}"
    return f"{told}; send fewer or smaller files at a time, or ingest large collections with `speechqa ingest`"


def _size(n: int) -> str:
    if n < 1024 * 1024:
        return f"{n:,} bytes"
    mb = n / (1024 * 1024)
    return f"{mb:.0f} MB" if mb == int(mb) else f"{mb:.1f} MB"


# -- JSON API -------------------------------------------------------------------
# Every API route may answer these; the guard's 414/421 come before any route.
api = APIRouter(responses=schemas.error_responses(400, 404, 405, 414, 421, 422, 503))
CHANGE_ERRORS = schemas.error_responses(401, 403)
UPLOAD_ERRORS = schemas.error_responses(401, 403, 413)


@api.get("/healthz", responses={200: {"model": schemas.Health}, 503: {"model": schemas.Health,
                                                                       "description": "no collection to serve yet"}})
def healthz(request: Request):
    stats, problem = request.app.state.holder.readiness()
    if problem is not None:
        return JSONResponse({"status": "not_ready", "documents": 0, "chunks": 0, "model": None, "index": None,
                             "error": {"code": problem.code,
                                       "message": public_message(str(problem), request.app.state.settings)}},
                            status_code=503)
    return {"status": "ok", **stats}


@api.get("/api/search", responses=schemas.success(schemas.SearchResponse, downloads=True))
def api_search(
    request: Request,
    service: Service,
    q: SearchText,
    options: SearchOptions,
    format: Annotated[str | None, Query(description="csv or jsonl: the results as a download", **EXPORT_FORMAT)] = None,
):
    fmt = check_format(format)
    result = service.search(replace(options, query=q))
    if fmt:
        return download(request, result.hits, fmt, "speechqa-search")
    # A JSONResponse straight from the plain dict skips FastAPI's generic re-encoding of the payload.
    return JSONResponse(result_to_dict(result))


@api.post("/api/search", responses={200: {"model": schemas.SearchResponse}})
def api_search_post(body: SearchBody, service: Service):
    return JSONResponse(result_to_dict(service.search(body.to_request())))


@api.post("/api/similar", responses={200: {"model": schemas.SearchResponse}})
def api_similar(body: SimilarBody, service: Service):
    return JSONResponse(result_to_dict(service.similar(text=body.text, chunk_id=body.stored_chunk(), k=body.k,
                                                       exclude_doc=body.exclude_doc, prefer=body.prefer,
                                                       ignore_filters=_listed(body.ignore_filter))))


@api.get("/api/documents", responses={200: {"model": schemas.DocumentsPage}})
def api_documents(service: Service, paging: Page):
    rows, total = service.documents(paging.offset, paging.limit)
    return {"documents": [document_summary(d, n) for d, n in rows], "total": total, "offset": paging.offset,
            "limit": paging.limit}


@api.get("/api/documents/{doc_id}", responses={200: {"model": schemas.DocumentDetail}})
def api_document(doc_id: str, service: Service):
    return document_detail(*service.document(doc_id))


@api.post("/api/documents", responses={200: {"model": schemas.UploadReport}, **UPLOAD_ERRORS})
def api_upload(_: Writer, settings: AppSettings, service: Service,
               files: Annotated[list[UploadFile], File(description="one or more files", **_bounds(minItems=1))]):
    report = service.changes.add_files(uploaded(files, settings.max_upload_bytes), max_file_bytes=settings.max_file_bytes)
    return report.as_dict()


@api.delete("/api/documents/{doc_id}", responses={200: {"model": schemas.Deleted}, **CHANGE_ERRORS})
def api_delete(doc_id: str, _: Writer, service: Service):
    service.changes.remove_document(doc_id)
    return {"deleted": doc_id}


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
            raise TooLargeError(_too_large_message(limit))
        contents.append((upload.filename or f"upload-{number}.txt", data))
    return contents


# -- pages ----------------------------------------------------------------------
pages = APIRouter(default_response_class=HTMLResponse, include_in_schema=False)  # the JSON API is described


def page(request: Request, name: str, status: int = 200, **context) -> Response:
    context.setdefault("can_write", can_write(request.app.state.settings))
    context.setdefault("needs_token", request.app.state.settings.token is not None)
    context.setdefault("modes", MODES)
    return templates.TemplateResponse(request, name, context, status_code=status)


@pages.get("/")
def home(request: Request):
    stats, problem = request.app.state.holder.readiness()
    if problem is not None:
        return page(request, "index.html", status=503, stats=None,
                    not_ready=public_message(str(problem), request.app.state.settings), form={})
    return page(request, "index.html", stats=stats, not_ready=None, form={})


@pages.get("/search")
def search_page(request: Request, service: Service, options: SearchOptions, q: str = ""):
    search = replace(options, query=q)
    form = {"q": q, "k": search.k, "mode": search.mode, **_filter_form(search), "prefer": None if search.prefer else "false",
            "ignore_filter": list(search.ignore_filters)}
    if not q.strip():
        return page(request, "index.html", stats=service.stats(), not_ready=None, form=form)
    shows_bad_input(request, "search.html", form=form, result=None)
    return page(request, "search.html", form=form, result=service.search(search), error=None)


@pages.get("/doc/{doc_id}")
def doc_page(request: Request, doc_id: str, service: Service, chunk: str | None = None):
    document, passages = service.document(doc_id)
    return page(request, "doc.html", document=document, passages=passages, cited=chunk)


@pages.get("/similar")
def similar_page(request: Request, service: Service, chunk: str | None = None, text: str = "", k: int = 10):
    if not chunk and not text.strip():
        return page(request, "similar.html", result=None, text="", error=None)
    shows_bad_input(request, "similar.html", result=None, text=text)
    result = service.similar(text=text or None, chunk_id=chunk, k=k)
    source_doc = service.document(result.source.doc_id)[0] if result.source else None
    return page(request, "similar.html", result=result, text=result.query, source_doc=source_doc, error=None)


@pages.post("/similar")
def similar_form(request: Request, service: Service, text: Annotated[str, Form()] = "", k: Annotated[int, Form()] = 10):
    return similar_page(request, service, None, text, k)


@pages.get("/documents")
def documents_page(request: Request, service: Service, paging: Page):
    rows, total = service.documents(paging.offset, paging.limit)
    return page(request, "documents.html", rows=rows, total=total, offset=paging.offset, limit=paging.limit, report=None,
                added=[])


@pages.post("/documents")
def documents_upload(
    request: Request,
    settings: AppSettings,
    service: Service,
    files: Annotated[list[UploadFile], File()],
    token: Annotated[str, Form()] = "",
):
    check_writer(settings, f"Bearer {token}" if token else None)
    report = service.changes.add_files(uploaded(files, settings.max_upload_bytes), max_file_bytes=settings.max_file_bytes)
    added = [service.document(doc_id)[0] for doc_id in report.added]
    rows, total = service.documents(0, 50)
    return page(request, "documents.html", rows=rows, total=total, offset=0, limit=50, report=report, added=added)


@pages.post("/documents/{doc_id}/delete")
def documents_delete(doc_id: str, settings: AppSettings, service: Service, token: Annotated[str, Form()] = ""):
    check_writer(settings, f"Bearer {token}" if token else None)
    service.changes.remove_document(doc_id)
    return RedirectResponse("/documents", status_code=303)


# -- research tools: phrase timelines, facet links, downloads (issue 15) -------------------
def query_link(path: str, params: dict, **changes: object) -> str:
    """`path` with the page's parameters, some changed (None or "" drops one); lists repeat their key."""
    pairs = []
    for key, value in {**params, **changes}.items():
        for one in value if isinstance(value, list | tuple) else [value]:
            if one not in (None, ""):
                pairs.append((key, one))
    return f"{path}?{urlencode(pairs)}" if pairs else path


templates.env.globals["query_link"] = query_link
templates.env.globals["period_bounds"] = period_bounds


def download(request: Request, hits: Sequence[Hit], fmt: str, name: str) -> Response:
    file = export(hits, fmt, str(request.base_url), name)
    return Response(file.body, media_type=file.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{file.filename}"'})


@api.get("/api/phrase", responses=schemas.success(schemas.PhraseTimeline, downloads=True))
def api_phrase(
    request: Request,
    service: Service,
    q: PhraseText,
    options: PhraseOptions,
    limit: Annotated[int | None, Query(description=f"occurrences listed, 1-{PHRASE_LIMIT}; default 50, every one for a download",
                                       **_in_query(minimum=1, maximum=PHRASE_LIMIT))] = None,
    format: Annotated[str | None, Query(description="csv or jsonl: the occurrences as a download", **EXPORT_FORMAT)] = None,
):
    fmt = check_format(format)
    checked_offset(options.offset)
    timeline = service.phrase(replace(options, phrase=q, limit=(PHRASE_LIMIT if fmt else 50) if limit is None else limit))
    if fmt:
        return download(request, timeline.occurrences, fmt, "speechqa-phrase")
    return JSONResponse(timeline_to_dict(timeline))


@pages.get("/phrase")
def phrase_page(request: Request, service: Service, options: PhraseOptions, q: str = "", limit: int = 50):
    wanted = replace(options, phrase=q, limit=limit)
    form = {"q": q, **_filter_form(wanted), "granularity": wanted.granularity if wanted.granularity != "auto" else ""}
    if not q.strip():
        return page(request, "phrase.html", form=form, timeline=None, error=None)
    shows_bad_input(request, "phrase.html", form=form, timeline=None)
    checked_offset(wanted.offset)
    return page(request, "phrase.html", form=form, timeline=service.phrase(wanted), error=None)


def create_app(settings: Settings, service: SearchService | None = None) -> FastAPI:
    """The web app over the collection of `settings` (or over `service`, already loaded)."""
    holder = AppServiceHolder(settings, service)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Load the model and indexes before the first request, not during one.
        try:
            holder.get().warm_up()
        except SpeechQAError as exc:
            log.warning("not ready: %s", exc)
        yield

    app = FastAPI(title="speechqa", version="0.1.0", lifespan=lifespan,
                  description="Semantic search over speeches with exact citations. Contract: shared/API.md.")
    app.state.settings = settings
    app.state.holder = holder
    app.state.allowed_hosts = security.allowed_host_names(settings.allowed_hosts, settings.host)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    install_error_handlers(app)
    app.include_router(api)
    app.include_router(pages)
    return app
