"""FastAPI app: the JSON API of ../shared/API.md and its server-rendered pages. Routes only fetch and render."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import tempfile
import threading
from collections.abc import Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, File, Form, Header, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.errors import BadInputError, ForbiddenError, SpeechQAError, TooLargeError, UnauthorizedError
from qa.export import check_format, export
from qa.ingest import IngestReport
from qa.phrase import MAX_LIMIT as PHRASE_LIMIT
from qa.phrase import PhraseRequest, period_bounds, timeline_to_dict
from qa.search import MAX_K, MODES, SearchRequest, SearchService
from qa.serialize import document_detail, document_summary, result_to_dict
from qa.settings import Settings
from qa.types import Hit, RawDocument, Rejection
from web.render import register_filters

log = logging.getLogger("speechqa.web")
HERE = Path(__file__).parent
UPLOAD_PATHS = ("/api/documents", "/documents")

templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescape is on for every template
register_filters(templates.env)


# -- request bodies -----------------------------------------------------------
class SearchBody(BaseModel):
    q: str = Field(..., description="question or pasted text, 1-2,000 characters")
    k: int = Field(10, description=f"passages, 1-{MAX_K}")
    mode: str = Field("hybrid", description="hybrid, dense or lexical")
    doc: list[str] | str = Field(default_factory=list, description="restrict to these document ids")
    date_from: str | None = Field(None, description="ISO date, inclusive, on the speech's date")
    date_to: str | None = Field(None, description="ISO date, inclusive, on the speech's date")
    speaker: str | None = None
    source: str | None = Field(None, description="only documents from this site or file (a value of facets.source)")

    def to_request(self) -> SearchRequest:
        doc_ids = (self.doc,) if isinstance(self.doc, str) else tuple(self.doc)
        return SearchRequest(self.q, self.k, self.mode, doc_ids, self.date_from, self.date_to, self.speaker, source=self.source)


class SimilarBody(BaseModel):
    text: str | None = Field(None, description="pasted text to compare; or give chunk_id")
    chunk_id: str | None = Field(None, description="start from a stored passage; its own document is left out")
    k: int = Field(10, description=f"passages, 1-{MAX_K}")
    exclude_doc: str | None = Field(None, description="leave out passages of this document")


# -- dependencies ---------------------------------------------------------------
class ServiceHolder:
    """Loads the collection and the model once; every request reuses them."""

    def __init__(self, settings: Settings, service: SearchService | None = None) -> None:
        self.settings = settings
        self._service = service
        self._lock = threading.Lock()

    def get(self) -> SearchService:
        if self._service is None:
            with self._lock:
                if self._service is None:
                    self._service = self._load()
        return self._service

    def _load(self) -> SearchService:
        from embeddings.loader import load_encoder, model_name
        from qa.collection import Collection

        settings = self.settings
        collection = Collection.open(settings.data_dir, model_name(settings))
        return SearchService(collection, load_encoder(settings), max_query_chars=settings.max_query_chars,
                             batch_size=settings.batch_size)


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


def check_writer(settings: Settings, authorization: str | None) -> None:
    """Raise unless this request may add or remove documents."""
    token = settings.token
    if token is None:
        if not _is_loopback(settings.host):
            raise ForbiddenError("uploads and deletions are disabled on a public address without a token: "
                                 "restart the server with SPEECHQA_TOKEN set")
        return
    if not authorization:
        raise UnauthorizedError("this server needs a token for changes: send 'Authorization: Bearer <token>'")
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ForbiddenError("the token is wrong: send the value of SPEECHQA_TOKEN as 'Authorization: Bearer <token>'")


def require_writer(settings: AppSettings, authorization: Annotated[str | None, Header()] = None) -> None:
    check_writer(settings, authorization)


Writer = Annotated[None, Depends(require_writer)]


# -- errors ---------------------------------------------------------------------
def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path == "/api" or path in ("/healthz", "/openapi.json")


def error_response(request: Request, status: int, code: str, message: str) -> Response:
    """The one shape of every error: JSON for the API, an HTML page otherwise."""
    if _wants_json(request):
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
    settings = request.app.state.settings
    return templates.TemplateResponse(
        request, "error.html", {"status": status, "code": code, "message": message, "can_write": can_write(settings)},
        status_code=status,
    )


def _problem(error: dict) -> str:
    if error.get("type") == "json_invalid":
        return "request body: not valid JSON"
    parts = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header", "form")]
    return f"{'.'.join(parts) or 'request body'}: {error.get('msg')}"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SpeechQAError)
    async def on_speechqa_error(request: Request, exc: SpeechQAError):
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
            return error_response(request, 405, "method_not_allowed",
                                  f"{request.method} is not allowed on {request.url.path}; see /docs for the API")
        return error_response(request, exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return error_response(request, 500, "internal", "something went wrong on the server; the error was logged")

    app.add_middleware(GuardMiddleware, on_unexpected=on_unexpected)


class GuardMiddleware:
    """Refuses oversized uploads before their body is read, and answers unexpected errors itself.

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
        if scope["method"] == "POST" and scope["path"] in UPLOAD_PATHS:
            # An oversized upload is refused before its body is read, so it never reaches the disk.
            limit = request.app.state.settings.max_upload_bytes
            length = request.headers.get("content-length", "")
            if length.isdigit() and int(length) > limit:
                response = error_response(request, 413, TooLargeError.code, _too_large_message(int(length), limit))
                await response(scope, receive, send)
                return
        started = False

        async def tracking_send(message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # too late for an error page; the server closes the connection
                raise
            # Answered here, the server keeps the connection instead of logging a re-raised error.
            await (await self.on_unexpected(request, exc))(scope, receive, send)


def _too_large_message(size: int, limit: int) -> str:
    return (f"the upload is {_size(size)}, over the limit of {_size(limit)}; send fewer or smaller files "
            "at a time, or ingest large collections with `speechqa ingest`")


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n:,} bytes"


# -- JSON API -------------------------------------------------------------------
api = APIRouter()


@api.get("/healthz")
def healthz(request: Request):
    try:
        stats = request.app.state.holder.get().stats()
    except SpeechQAError as exc:
        return JSONResponse({"status": "not_ready", "documents": 0, "chunks": 0, "model": None, "index": None,
                             "error": {"code": exc.code, "message": str(exc)}}, status_code=503)
    return {"status": "ok", **stats}


@api.get("/api/search")
def api_search(
    request: Request,
    service: Service,
    q: Annotated[str, Query(description="question or text, any script, 1-2,000 characters")] = "",
    k: Annotated[int, Query(description=f"passages, 1-{MAX_K}")] = 10,
    mode: Annotated[str, Query(description="hybrid, dense or lexical")] = "hybrid",
    doc: Annotated[list[str] | None, Query(description="restrict to this document id (repeatable)")] = None,
    date_from: Annotated[str | None, Query(description="ISO date, inclusive")] = None,
    date_to: Annotated[str | None, Query(description="ISO date, inclusive")] = None,
    speaker: str | None = None,
    source: Annotated[str | None, Query(description="only documents from this site or file (a value of facets.source)")] = None,
    format: Annotated[str | None, Query(description="csv or jsonl: the results as a download")] = None,
):
    fmt = check_format(format)
    result = service.search(SearchRequest(q, k, mode, tuple(doc or ()), date_from, date_to, speaker, source=source))
    if fmt:
        return download(request, result.hits, fmt, "speechqa-search")
    # A JSONResponse straight from the plain dict skips FastAPI's generic re-encoding of the payload.
    return JSONResponse(result_to_dict(result))


@api.post("/api/search")
def api_search_post(body: SearchBody, service: Service):
    return JSONResponse(result_to_dict(service.search(body.to_request())))


@api.post("/api/similar")
def api_similar(body: SimilarBody, service: Service):
    return JSONResponse(result_to_dict(service.similar(text=body.text, chunk_id=body.chunk_id, k=body.k, exclude_doc=body.exclude_doc)))


@api.get("/api/documents")
def api_documents(service: Service, offset: int = 0, limit: int = 50):
    rows, total = service.documents(offset, limit)
    return {"documents": [document_summary(d, n) for d, n in rows], "total": total, "offset": offset, "limit": limit}


@api.get("/api/documents/{doc_id}")
def api_document(doc_id: str, service: Service):
    return document_detail(*service.document(doc_id))


@api.post("/api/documents")
async def api_upload(_: Writer, settings: AppSettings, service: Service,
                     files: Annotated[list[UploadFile], File(description="one or more files")]):
    report = await ingest_uploads(service, settings, files)
    return report.as_dict()


@api.delete("/api/documents/{doc_id}")
def api_delete(doc_id: str, _: Writer, service: Service):
    service.remove_document(doc_id)
    return {"deleted": doc_id}


async def ingest_uploads(service: SearchService, settings: Settings, files: list[UploadFile]) -> IngestReport:
    """Write each upload under a fresh temporary name, read it, and add what it holds."""
    from qa.readers import read_path

    files = [f for f in files if f.filename or f.size]
    if not files:
        raise BadInputError("no files in the upload: send them as multipart field 'files'")
    limit = settings.max_upload_bytes
    records: list[RawDocument | Rejection] = []
    total = 0
    with tempfile.TemporaryDirectory(prefix="speechqa-upload-") as tmp:
        for number, upload in enumerate(files):
            name = safe_name(upload.filename or f"upload-{number}.txt")
            data = await upload.read(limit + 1 - total)
            total += len(data)
            if total > limit:  # a chunked request gives no length up front
                raise TooLargeError(_too_large_message(total, limit))
            # The request names nothing on disk: each upload gets a fresh name with only its suffix kept.
            path = Path(tmp) / f"{number}{_suffix(name)}"
            path.write_bytes(data)
            records.extend(_cited_as(record, path, name) for record in read_path(path, max_bytes=settings.max_file_bytes))
        return service.add_documents(records)


_UNSAFE = re.compile(r"[^\w.\-]+")


def safe_name(filename: str) -> str:
    """The file's base name for citations only; directories and odd characters are dropped."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return _UNSAFE.sub("_", base).strip("._")[:120] or "upload"


def _suffix(name: str) -> str:
    lowered = name.lower()
    return ".jsonl.gz" if lowered.endswith(".jsonl.gz") else Path(lowered).suffix


def _cited_as(record: RawDocument | Rejection, tmp_path: Path, name: str) -> RawDocument | Rejection:
    """Cite an upload by the name the user gave it, not by its temporary file."""
    cited = replace(record, source=record.source.replace(str(tmp_path), name, 1))
    if isinstance(cited, Rejection):
        cited = replace(cited, reason=cited.reason.replace(str(tmp_path), name))
    return cited


# -- pages ----------------------------------------------------------------------
pages = APIRouter(default_response_class=HTMLResponse)


def page(request: Request, name: str, status: int = 200, **context) -> Response:
    context.setdefault("can_write", can_write(request.app.state.settings))
    context.setdefault("needs_token", request.app.state.settings.token is not None)
    context.setdefault("modes", MODES)
    return templates.TemplateResponse(request, name, context, status_code=status)


@pages.get("/")
def home(request: Request):
    try:
        stats = request.app.state.holder.get().stats()
    except SpeechQAError as exc:
        return page(request, "index.html", status=503, stats=None, not_ready=str(exc), form={})
    return page(request, "index.html", stats=stats, not_ready=None, form={})


@pages.get("/search")
def search_page(
    request: Request,
    service: Service,
    q: str = "",
    k: int = 10,
    mode: str = "hybrid",
    doc: Annotated[list[str] | None, Query()] = None,
    date_from: str | None = None,
    date_to: str | None = None,
    speaker: str | None = None,
    source: str | None = None,
):
    form = {"q": q, "k": k, "mode": mode, "doc": doc or [], "date_from": date_from or "", "date_to": date_to or "",
            "speaker": speaker or "", "source": source or ""}
    if not q.strip():
        return page(request, "index.html", stats=service.stats(), not_ready=None, form=form)
    try:
        result = service.search(SearchRequest(q, k, mode, tuple(doc or ()), date_from or None, date_to or None, speaker or None,
                                              source=source or None))
    except BadInputError as exc:  # shown next to the form, so the user can fix the query in place
        return page(request, "search.html", status=400, form=form, result=None, error=str(exc))
    return page(request, "search.html", form=form, result=result, error=None)


@pages.get("/doc/{doc_id}")
def doc_page(request: Request, doc_id: str, service: Service, chunk: str | None = None):
    document, passages = service.document(doc_id)
    return page(request, "doc.html", document=document, passages=passages, cited=chunk)


@pages.get("/similar")
def similar_page(request: Request, service: Service, chunk: str | None = None, text: str = "", k: int = 10):
    if not chunk and not text.strip():
        return page(request, "similar.html", result=None, text="", error=None)
    try:
        result = service.similar(text=text or None, chunk_id=chunk, k=k)
    except BadInputError as exc:
        return page(request, "similar.html", status=400, result=None, text=text, error=str(exc))
    source_doc = service.document(result.source.doc_id)[0] if result.source else None
    return page(request, "similar.html", result=result, text=result.query, source_doc=source_doc, error=None)


@pages.post("/similar")
def similar_form(request: Request, service: Service, text: Annotated[str, Form()] = "", k: Annotated[int, Form()] = 10):
    return similar_page(request, service, None, text, k)


@pages.get("/documents")
def documents_page(request: Request, service: Service, offset: int = 0, limit: int = 50):
    rows, total = service.documents(offset, limit)
    return page(request, "documents.html", rows=rows, total=total, offset=offset, limit=limit, report=None, added=[])


@pages.post("/documents")
async def documents_upload(
    request: Request,
    settings: AppSettings,
    service: Service,
    files: Annotated[list[UploadFile], File()],
    token: Annotated[str, Form()] = "",
):
    check_writer(settings, f"Bearer {token}" if token else None)
    report = await ingest_uploads(service, settings, files)
    added = [service.document(doc_id)[0] for doc_id in report.added]
    rows, total = service.documents(0, 50)
    return page(request, "documents.html", rows=rows, total=total, offset=0, limit=50, report=report, added=added)


@pages.post("/documents/{doc_id}/delete")
def documents_delete(doc_id: str, settings: AppSettings, service: Service, token: Annotated[str, Form()] = ""):
    check_writer(settings, f"Bearer {token}" if token else None)
    service.remove_document(doc_id)
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


@api.get("/api/phrase")
def api_phrase(
    request: Request,
    service: Service,
    q: Annotated[str, Query(description="the exact phrase, either script, 1-100 characters")] = "",
    doc: Annotated[list[str] | None, Query(description="restrict to this document id (repeatable)")] = None,
    date_from: Annotated[str | None, Query(description="ISO date, inclusive")] = None,
    date_to: Annotated[str | None, Query(description="ISO date, inclusive")] = None,
    speaker: str | None = None,
    source: Annotated[str | None, Query(description="only documents from this site or file")] = None,
    granularity: Annotated[str, Query(description="auto, month or year")] = "auto",
    offset: int = 0,
    limit: Annotated[int | None, Query(description=f"occurrences listed, 1-{PHRASE_LIMIT}; default 50, every one for a download")] = None,
    format: Annotated[str | None, Query(description="csv or jsonl: the occurrences as a download")] = None,
):
    fmt = check_format(format)
    timeline = service.phrase(PhraseRequest(q, tuple(doc or ()), date_from, date_to, speaker, source, granularity, offset,
                                            limit or (PHRASE_LIMIT if fmt else 50)))
    if fmt:
        return download(request, timeline.occurrences, fmt, "speechqa-phrase")
    return JSONResponse(timeline_to_dict(timeline))


@pages.get("/phrase")
def phrase_page(
    request: Request,
    service: Service,
    q: str = "",
    doc: Annotated[list[str] | None, Query()] = None,
    date_from: str | None = None,
    date_to: str | None = None,
    speaker: str | None = None,
    source: str | None = None,
    granularity: str = "auto",
    offset: int = 0,
    limit: int = 50,
):
    form = {"q": q, "doc": doc or [], "date_from": date_from or "", "date_to": date_to or "", "speaker": speaker or "",
            "source": source or "", "granularity": granularity if granularity != "auto" else ""}
    if not q.strip():
        return page(request, "phrase.html", form=form, timeline=None, error=None)
    try:
        timeline = service.phrase(PhraseRequest(q, tuple(doc or ()), date_from, date_to, speaker, source, granularity,
                                                offset, limit))
    except BadInputError as exc:  # shown next to the form, so the user can fix the phrase in place
        return page(request, "phrase.html", status=400, form=form, timeline=None, error=str(exc))
    return page(request, "phrase.html", form=form, timeline=timeline, error=None)


def create_app(settings: Settings, service: SearchService | None = None) -> FastAPI:
    """The web app over the collection of `settings` (or over `service`, already loaded)."""
    holder = ServiceHolder(settings, service)

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
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    install_error_handlers(app)
    app.include_router(api)
    app.include_router(pages)
    return app
