"""What routes are given: settings, the service, the change check, and each operation's request from the wire."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import AliasChoices, Field

from qa.access import change_refusal
from qa.app import ServiceHolder
from qa.errors import SpeechQAError
from qa.search.jobs import ChangeJobs
from qa.search.requests import (
    DocumentsRequest,
    PhraseRequest,
    ReuseRequest,
    SearchRequest,
    SimilarRequest,
    TopReuseRequest,
)
from qa.search.service import SearchService
from qa.settings import Settings


class AppServiceHolder(ServiceHolder):
    """Loads the collection and the model once; every request reuses them."""

    def readiness(self) -> tuple[dict | None, SpeechQAError | None]:
        """The collection's figures, or why there is none to serve yet: the health check and the home page
        report that rather than fail."""
        try:
            return self.get().stats(), None
        except SpeechQAError as exc:
            return None, exc


# Dependencies that only hand something on are coroutines: FastAPI runs a plain function on a worker thread,
# and each such hop waits for the interpreter lock behind the searches running (docs/performance.md).
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_service(request: Request) -> SearchService:
    holder: ServiceHolder = request.app.state.holder
    service = holder.opened()
    if service is None:  # opening it takes seconds: not on the event loop
        service = await run_in_threadpool(holder.get)
    return service


async def get_jobs(request: Request) -> ChangeJobs:
    return request.app.state.jobs


AppSettings = Annotated[Settings, Depends(get_settings)]
Service = Annotated[SearchService, Depends(get_service)]
Jobs = Annotated[ChangeJobs, Depends(get_jobs)]


def writer_refusal(settings: Settings, authorization: str | None) -> SpeechQAError | None:
    """Why this request may not add or remove documents, or None when it may (qa.access decides)."""
    return change_refusal(settings.token, authorization, host=settings.host)


def check_writer(settings: Settings, authorization: str | None) -> None:
    """Raise unless this request may add or remove documents."""
    refusal = writer_refusal(settings, authorization)
    if refusal is not None:
        raise refusal


def require_writer(settings: AppSettings, authorization: Annotated[str | None, Header()] = None) -> None:
    check_writer(settings, authorization)


Writer = Annotated[None, Depends(require_writer)]


# -- each operation's request, by the names of its model (qa.search.requests) -------------------
# FastAPI reads a query-string model only as the one query parameter of its dependant, so each has its own
# dependency: a route may take further parameters of its own (format=).
class SearchBody(SearchRequest):
    """POST /api/search: a search as a JSON object (for long pasted text)."""


class SimilarBody(SimilarRequest):
    """POST /api/similar: similar passages, of a pasted text or of a stored passage."""


class ReuseBody(ReuseRequest):
    """POST /api/reuse: the reuse of a pasted text (or of a stored passage) as a JSON object."""


class SearchForm(SearchRequest):
    """The /search page: without a question it shows the empty form."""

    query: str = Field("", validation_alias="q")


class PhraseForm(PhraseRequest):
    """The /phrase page: without a phrase it shows the empty form."""

    phrase: str = Field("", validation_alias="q")


class SimilarForm(SimilarRequest):
    """The /similar page, whose links have always named the stored passage `chunk`."""

    chunk_id: str | None = Field(None, validation_alias=AliasChoices("chunk_id", "chunk"))


async def _search(search: Annotated[SearchRequest, Query()]) -> SearchRequest:
    return search


async def _phrase(phrase: Annotated[PhraseRequest, Query()]) -> PhraseRequest:
    return phrase


async def _documents(listing: Annotated[DocumentsRequest, Query()]) -> DocumentsRequest:
    return listing


async def _reuse(reuse: Annotated[ReuseRequest, Query()]) -> ReuseRequest:
    return reuse


async def _reuse_form(reuse: Annotated[ReuseRequest, Form()]) -> ReuseRequest:
    return reuse


async def _reuse_top(top: Annotated[TopReuseRequest, Query()]) -> TopReuseRequest:
    return top


async def _search_form(search: Annotated[SearchForm, Query()]) -> SearchForm:
    return search


async def _phrase_form(phrase: Annotated[PhraseForm, Query()]) -> PhraseForm:
    return phrase


async def _similar_link(similar: Annotated[SimilarForm, Query()]) -> SimilarForm:
    return similar


async def _similar_form(similar: Annotated[SimilarForm, Form()]) -> SimilarForm:
    return similar


SearchQuery = Annotated[SearchRequest, Depends(_search)]
PhraseQuery = Annotated[PhraseRequest, Depends(_phrase)]
DocumentsQuery = Annotated[DocumentsRequest, Depends(_documents)]
ReuseQuery = Annotated[ReuseRequest, Depends(_reuse)]
ReusePosted = Annotated[ReuseRequest, Depends(_reuse_form)]
TopReuseQuery = Annotated[TopReuseRequest, Depends(_reuse_top)]
SearchPage = Annotated[SearchForm, Depends(_search_form)]
PhrasePage = Annotated[PhraseForm, Depends(_phrase_form)]
SimilarLink = Annotated[SimilarForm, Depends(_similar_link)]
SimilarPosted = Annotated[SimilarForm, Depends(_similar_form)]
