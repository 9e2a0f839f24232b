"""The server-rendered pages: each reads the same request as its JSON twin and renders what the service returns."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse

from qa.search.jobs import needs_a_job
from qa.search.requests import Filters, ReuseRequest, SearchRequest
from web.api import uploaded
from web.deps import (
    AppSettings,
    DocumentsQuery,
    Jobs,
    PhrasePage,
    ReusePosted,
    ReuseQuery,
    SearchPage,
    Service,
    SimilarForm,
    SimilarLink,
    SimilarPosted,
    TopReuseQuery,
    check_writer,
)
from web.errors import public_message, shows_bad_input
from web.render import page

pages = APIRouter(default_response_class=HTMLResponse, include_in_schema=False)  # the JSON API is described


def _filter_form(request: Filters) -> dict[str, Any]:
    """A page's filter fields as the user sent them (blank, not None, where one was left out)."""
    return {"doc": list(request.doc_ids), "date_from": request.date_from or "", "date_to": request.date_to or "",
            "speaker": request.speaker or "", "source": request.source or ""}


def _search_form(search: SearchRequest) -> dict[str, Any]:
    return {"q": search.query, "k": search.k, "mode": search.mode, **_filter_form(search),
            "exclude_doc": search.exclude_doc or "", "prefer": None if search.prefer else "false",
            "ignore_filter": list(search.ignore_filters)}


@pages.get("/")
def home(request: Request):
    stats, problem = request.app.state.holder.readiness()
    if problem is not None:
        return page(request, "index.html", status=503, stats=None,
                    not_ready=public_message(str(problem), request.app.state.settings), form={})
    return page(request, "index.html", stats=stats, not_ready=None, form={})


@pages.get("/search")
def search_page(request: Request, service: Service, search: SearchPage):
    form = _search_form(search)
    if not search.query.strip():
        return page(request, "index.html", stats=service.stats(), not_ready=None, form=form)
    shows_bad_input(request, "search.html", form=form, result=None)
    result = service.search(search)
    return page(request, "search.html", form=form, result=result, error=None,
                reused=service.reused([hit.passage for hit in result.hits]))


@pages.get("/doc/{doc_id}")
def doc_page(request: Request, doc_id: str, service: Service, chunk: str | None = None):
    document, passages = service.document(doc_id)
    return page(request, "doc.html", document=document, passages=passages, cited=chunk)


@pages.get("/similar")
def similar_page(request: Request, service: Service, similar: SimilarLink):
    return _similar(request, service, similar)


@pages.post("/similar")
def similar_form(request: Request, service: Service, similar: SimilarPosted):
    return _similar(request, service, similar)


def _similar(request: Request, service: Service, similar: SimilarForm):
    if not similar.chunk_id and not (similar.text or "").strip():
        return page(request, "similar.html", result=None, text="", error=None)
    shows_bad_input(request, "similar.html", result=None, text=similar.text or "")
    result = service.similar(similar)
    source_doc = service.document(result.source.doc_id)[0] if result.source else None
    return page(request, "similar.html", result=result, text=result.query, source_doc=source_doc, error=None,
                reused=service.reused([hit.passage for hit in result.hits]))


@pages.get("/documents")
def documents_page(request: Request, service: Service, listing: DocumentsQuery):
    listing = listing.checked()
    rows, total = service.documents(listing.offset, listing.limit)
    return page(request, "documents.html", rows=rows, total=total, offset=listing.offset, limit=listing.limit,
                report=None, added=[])


@pages.post("/documents")
def documents_upload(
    request: Request,
    settings: AppSettings,
    service: Service,
    jobs: Jobs,
    files: Annotated[list[UploadFile], File()],
    token: Annotated[str, Form()] = "",
):
    check_writer(settings, f"Bearer {token}" if token else None)
    contents = uploaded(files, settings.max_upload_bytes)
    if jobs.busy() or needs_a_job(contents, settings.max_file_bytes):
        job = service.changes.add_files_later(jobs, contents, max_file_bytes=settings.max_file_bytes)
        rows, total = service.documents(0, 50)
        return page(request, "documents.html", status=202, rows=rows, total=total, offset=0, limit=50, report=None,
                    added=[], job=job)
    report = service.changes.add_files(contents, max_file_bytes=settings.max_file_bytes)
    added = [service.document(doc_id)[0] for doc_id in report.added]
    rows, total = service.documents(0, 50)
    return page(request, "documents.html", rows=rows, total=total, offset=0, limit=50, report=report, added=added)


@pages.post("/documents/{doc_id}/delete")
def documents_delete(doc_id: str, settings: AppSettings, service: Service, token: Annotated[str, Form()] = ""):
    check_writer(settings, f"Bearer {token}" if token else None)
    service.changes.remove_document(doc_id)
    return RedirectResponse("/documents", status_code=303)


@pages.get("/phrase")
def phrase_page(request: Request, service: Service, phrase: PhrasePage):
    form = {"q": phrase.phrase, **_filter_form(phrase),
            "granularity": phrase.granularity if phrase.granularity != "auto" else ""}
    if not phrase.phrase.strip():
        return page(request, "phrase.html", form=form, timeline=None, error=None)
    shows_bad_input(request, "phrase.html", form=form, timeline=None)
    return page(request, "phrase.html", form=form, timeline=service.phrase(phrase), error=None)


def _reuse_form(reuse: ReuseRequest) -> dict[str, Any]:
    return {"chunk_id": reuse.chunk_id or "", **_filter_form(reuse), "hide_series": "true" if reuse.hide_series else "",
            "granularity": reuse.granularity if reuse.granularity != "auto" else ""}


@pages.get("/reuse")
def reuse_page(request: Request, service: Service, reuse: ReuseQuery):
    return _reuse(request, service, reuse)


@pages.post("/reuse")
def reuse_posted(request: Request, service: Service, reuse: ReusePosted):
    return _reuse(request, service, reuse)


def _reuse(request: Request, service: Service, reuse: ReuseRequest):
    form = _reuse_form(reuse)
    if not reuse.chunk_id and not (reuse.text or "").strip():
        return page(request, "reuse.html", form=form, report=None, text="", error=None)
    shows_bad_input(request, "reuse.html", form=form, report=None, text=reuse.text or "")
    report = service.reuse(reuse)
    return page(request, "reuse.html", form=form, report=report, text=reuse.text or "", error=None)


@pages.get("/reuse/top")
def reuse_top_page(request: Request, service: Service, top: TopReuseQuery):
    form = {**_filter_form(top), "hide_series": "true" if top.hide_series else ""}
    shows_bad_input(request, "reuse_top.html", form=form, top=None)
    return page(request, "reuse_top.html", form=form, top=service.reuse_top(top), error=None)
