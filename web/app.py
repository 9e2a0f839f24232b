"""FastAPI app: the JSON API of ../shared/API.md and its server-rendered pages. Routes only fetch and render."""

from __future__ import annotations

import ipaddress
import logging
import re
import tempfile
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, File, Form, Header, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.errors import (
    BadInputError,
    ForbiddenError,
    IndexNotBuiltError,
    SpeechQAError,
    TooLargeError,
    UnauthorizedError,
)
from qa.ingest import IngestReport
from qa.search import MAX_K, MODES, SearchRequest, SearchService
from qa.serialize import document_detail, document_summary, result_to_dict
from qa.settings import Settings
from qa.types import Rejection
from web.render import register_filters

log = logging.getLogger("speechqa.web")
HERE = Path(__file__).parent


class SearchBody(BaseModel):
    q: str = Field(..., description="question or pasted text, 1-2,000 characters")
    k: int = Field(10, description=f"passages, 1-{MAX_K}")
    mode: str = Field("hybrid", description="hybrid, dense or lexical")
    doc: list[str] = Field(default_factory=list, description="restrict to these document ids")
    date_from: str | None = None
    date_to: str | None = None
    speaker: str | None = None


class SimilarBody(BaseModel):
    text: str | None = None
    chunk_id: str | None = None
    k: int = 10
    exclude_doc: str | None = None


class ServiceHolder:
    """Loads the collection and the model once; every request reuses them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._service: SearchService | None = None
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


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path in ("/healthz", "/openapi.json")


def create_app(settings: Settings, service: SearchService | None = None) -> FastAPI:
    holder = ServiceHolder(settings)
    if service is not None:
        holder._service = service

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Load the model and indexes before the first request, not during one.
        try:
            holder.get()
        except SpeechQAError as exc:
            log.warning("not ready: %s", exc)
        yield

    app = FastAPI(title="speechqa", version="0.1.0", lifespan=lifespan,
                  description="Semantic search over speeches with exact citations.")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    register_filters(templates.env)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    def get_service() -> SearchService:
        return holder.get()

    Service = Annotated[SearchService, Depends(get_service)]

    def require_writer(authorization: Annotated[str | None, Header()] = None) -> None:
        token = settings.token
        if token is None:
            if not _is_loopback(settings.host):
                raise ForbiddenError("uploads and deletions are disabled on a public address without a token: "
                                     "restart the server with SPEECHQA_TOKEN set")
            return
        if not authorization:
            raise UnauthorizedError("this server needs a token for changes: send 'Authorization: Bearer <token>'")
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or given.strip() != token:
            raise ForbiddenError("the token is wrong: send the value of SPEECHQA_TOKEN as 'Authorization: Bearer <token>'")

    Writer = Annotated[None, Depends(require_writer)]

    def can_write(request: Request) -> bool:
        return settings.token is not None or _is_loopback(settings.host)

    # -- errors -------------------------------------------------------------
    def error_response(request: Request, status: int, code: str, message: str):
        if _wants_json(request):
            return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
        return templates.TemplateResponse(request, "error.html", {"status": status, "message": message},
                                          status_code=status)

    @app.exception_handler(SpeechQAError)
    async def on_speechqa_error(request: Request, exc: SpeechQAError):
        return error_response(request, exc.status, exc.code, str(exc))

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ())[1:]) or 'request'}: {err.get('msg')}" for err in exc.errors()
        )
        return error_response(request, 422, "invalid_request", f"fix these fields: {problems}")

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = "no such page or endpoint; see /docs for the API" if exc.status_code == 404 else str(exc.detail)
        return error_response(request, exc.status_code, code, message)

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return error_response(request, 500, "internal", "something went wrong on the server; the error was logged")

    # -- JSON API -----------------------------------------------------------
    @app.get("/healthz")
    def healthz(request: Request):
        try:
            stats = holder.get().stats()
        except IndexNotBuiltError as exc:
            return JSONResponse({"status": "no_index", "documents": 0, "chunks": 0, "model": None, "index": None,
                                 "message": str(exc)}, status_code=503)
        return {"status": "ok", **stats}

    @app.get("/api/search")
    def api_search(
        service: Service,
        q: Annotated[str, Query(description="question or text, 1-2,000 characters")] = "",
        k: int = 10,
        mode: str = "hybrid",
        doc: Annotated[list[str] | None, Query()] = None,
        date_from: str | None = None,
        date_to: str | None = None,
        speaker: str | None = None,
    ):
        return result_to_dict(service.search(SearchRequest(q, k, mode, tuple(doc or ()), date_from, date_to, speaker)))

    @app.post("/api/search")
    def api_search_post(body: SearchBody, service: Service):
        request = SearchRequest(body.q, body.k, body.mode, tuple(body.doc), body.date_from, body.date_to, body.speaker)
        return result_to_dict(service.search(request))

    @app.post("/api/similar")
    def api_similar(body: SimilarBody, service: Service):
        return result_to_dict(service.similar(text=body.text, chunk_id=body.chunk_id, k=body.k, exclude_doc=body.exclude_doc))

    @app.get("/api/documents")
    def api_documents(service: Service, offset: int = 0, limit: int = 50):
        rows, total = service.documents(offset, limit)
        return {"documents": [document_summary(d, n) for d, n in rows], "total": total, "offset": offset, "limit": limit}

    @app.get("/api/documents/{doc_id}")
    def api_document(doc_id: str, service: Service):
        document, passages = service.document(doc_id)
        return document_detail(document, passages)

    @app.post("/api/documents")
    async def api_upload(service: Service, _: Writer, files: Annotated[list[UploadFile], File()]):
        report = await _ingest_uploads(service, files)
        return report.as_dict()

    @app.delete("/api/documents/{doc_id}")
    def api_delete(doc_id: str, service: Service, _: Writer):
        service.remove_document(doc_id)
        return {"deleted": doc_id}

    async def _ingest_uploads(service: SearchService, files: list[UploadFile]) -> IngestReport:
        limit = settings.max_upload_bytes
        if not files:
            raise BadInputError("no files in the upload: send them as multipart field 'files'")
        records: list = []
        too_large: list[Rejection] = []
        with tempfile.TemporaryDirectory(prefix="speechqa-upload-") as tmp:
            for number, upload in enumerate(files):
                name = _safe_name(upload.filename or f"upload-{number}.txt")
                data = await upload.read(limit + 1)
                if len(data) > limit:
                    too_large.append(Rejection(name, f"larger than the upload limit of {limit // (1024 * 1024)} MB; split it or ingest it with `speechqa ingest`"))
                    continue
                # The request names nothing on disk: each upload gets a fresh name with only its suffix kept.
                path = Path(tmp) / f"{number}{Path(name).suffix.lower()}"
                path.write_bytes(data)
                from qa.readers import read_path

                for record in read_path(path, max_bytes=limit):
                    records.append(_renamed(record, path, name))
            report = service.add_documents(records)
        report.rejected[:0] = too_large
        if too_large and not (report.added or report.updated or report.duplicates):
            raise TooLargeError("; ".join(f"{r.source}: {r.reason}" for r in too_large))
        return report

    # -- pages ----------------------------------------------------------------
    def page(request: Request, name: str, status: int = 200, **context):
        context.setdefault("can_write", can_write(request))
        context.setdefault("modes", MODES)
        return templates.TemplateResponse(request, name, context, status_code=status)

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request):
        stats = None
        try:
            stats = holder.get().stats()
        except IndexNotBuiltError as exc:
            return page(request, "index.html", stats=None, not_ready=str(exc))
        return page(request, "index.html", stats=stats, not_ready=None)

    @app.get("/search", response_class=HTMLResponse)
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
    ):
        form = {"q": q, "k": k, "mode": mode, "date_from": date_from or "", "date_to": date_to or "", "speaker": speaker or ""}
        if not q.strip():
            return page(request, "index.html", stats=service.stats(), not_ready=None, form=form)
        try:
            result = service.search(SearchRequest(q, k, mode, tuple(doc or ()), date_from or None, date_to or None, speaker or None))
        except BadInputError as exc:
            return page(request, "search.html", status=400, form=form, result=None, error=str(exc))
        return page(request, "search.html", form=form, result=result, error=None)

    @app.get("/doc/{doc_id}", response_class=HTMLResponse)
    def doc_page(request: Request, doc_id: str, service: Service, chunk: str | None = None):
        document, passages = service.document(doc_id)
        return page(request, "doc.html", document=document, passages=passages, cited=chunk)

    @app.get("/similar", response_class=HTMLResponse)
    def similar_page(request: Request, service: Service, chunk: str | None = None, text: str = "", k: int = 10):
        if not chunk and not text.strip():
            return page(request, "similar.html", result=None, text="", error=None)
        try:
            result = service.similar(text=text or None, chunk_id=chunk, k=k)
        except BadInputError as exc:
            return page(request, "similar.html", status=400, result=None, text=text, error=str(exc))
        source_doc = service.document(result.source.doc_id)[0] if result.source else None
        return page(request, "similar.html", result=result, text=result.query, source_doc=source_doc, error=None)

    @app.post("/similar", response_class=HTMLResponse)
    def similar_form(request: Request, service: Service, text: Annotated[str, Form()] = "", k: Annotated[int, Form()] = 10):
        return similar_page(request, service, None, text, k)

    @app.get("/documents", response_class=HTMLResponse)
    def documents_page(request: Request, service: Service, offset: int = 0, limit: int = 50):
        rows, total = service.documents(offset, limit)
        return page(request, "documents.html", rows=rows, total=total, offset=offset, limit=limit, report=None)

    @app.post("/documents", response_class=HTMLResponse)
    async def documents_upload(
        request: Request,
        service: Service,
        files: Annotated[list[UploadFile], File()],
        token: Annotated[str, Form()] = "",
    ):
        require_writer(f"Bearer {token}" if token else None)
        report = await _ingest_uploads(service, files)
        rows, total = service.documents(0, 50)
        return page(request, "documents.html", rows=rows, total=total, offset=0, limit=50, report=report)

    @app.post("/documents/{doc_id}/delete")
    def documents_delete(request: Request, doc_id: str, service: Service, token: Annotated[str, Form()] = ""):
        require_writer(f"Bearer {token}" if token else None)
        service.remove_document(doc_id)
        return RedirectResponse("/documents", status_code=303)

    return app


_UNSAFE = re.compile(r"[^\w.\-\u3400-\u9fff]+")


def _safe_name(filename: str) -> str:
    """The file's base name for citations only; directories and odd characters are dropped."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return _UNSAFE.sub("_", base).strip("._")[:120] or "upload"


def _renamed(record, tmp_path: Path, name: str):
    """Cite an upload by the name the user gave it, not by its temporary file."""
    from dataclasses import replace

    for prefix in (str(tmp_path), tmp_path.name):
        if record.source.startswith(prefix):
            return replace(record, source=name + record.source[len(prefix):])
    return record
