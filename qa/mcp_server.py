"""`speechqa mcp`: the collection as Model Context Protocol tools, so AI assistants answer from it with our citations.

Tools mirror the JSON API (docs/api.md): search, similar, phrase_timeline, reuse and list_documents take the
fields of the API's request models (qa.search.requests) as their arguments and answer with its shapes
(qa.serialize); get_document and get_passage read one. Every passage they return carries its citation
and a link into the web app. The server only reads, unless a token is configured (SPEECHQA_TOKEN): then
add_document and remove_document are offered too, and each call must carry that token.

Uses the official `mcp` SDK (the optional extra `speechqa[mcp]`), imported only here.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, Field

from qa import __version__
from qa.access import change_refusal, is_loopback, is_loopback_origin, token_matches
from qa.app import ServiceHolder
from qa.errors import BadInputError, MissingDependencyError, SpeechQAError
from qa.search.requests import DocumentsRequest, PhraseRequest, ReuseRequest, SearchRequest, SimilarRequest, parameters
from qa.settings import Settings

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from qa.search.service import SearchService

DEFAULT_WEB_URL = "http://127.0.0.1:8000"
INSTRUCTIONS = (
    "Search a collection of speeches and policy texts (Chinese, either script, or English questions). "
    "Quote passages with their citation (title, date, speaker, section) and link, and prefer "
    "phrase_timeline for questions about when or how often an exact formulation was used, and reuse for where "
    "a passage's wording came from or was copied to."
)


def _mcp_server_class() -> type[MCPServer]:
    try:
        from mcp.server.mcpserver import MCPServer
    except ImportError:
        raise MissingDependencyError("`speechqa mcp` needs the MCP SDK: pip install 'speechqa[mcp]'") from None
    return MCPServer


def _answers_errors(tool: Callable[..., dict]) -> Callable[..., dict]:
    """A library error reaches the assistant as the tool's error with its message (which says what to change);
    the SDK shows any other exception only as a crash, without its text."""
    from mcp.server.mcpserver.exceptions import ToolError

    @functools.wraps(tool)
    def answered(*args: Any, **kwargs: Any) -> dict:
        try:
            return tool(*args, **kwargs)
        except SpeechQAError as exc:
            raise ToolError(str(exc)) from exc

    return answered


class _Service(ServiceHolder):
    """The search service, loaded with the model on the first search (listing the tools needs nothing);
    documents, passages and phrases are read without the model until then."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._reader: SearchService | None = None

    def reader(self) -> SearchService:
        """A service for reading that never loads the model (the full one once it is there)."""
        if self._service is not None:
            return self._service
        with self._lock:
            if self._reader is None:
                from qa.app import open_reader

                self._reader = open_reader(self.settings)
        return self._reader


def _linked(item: dict, web_url: str) -> dict:
    """An API result item with `link`: its citation's URL in the web app, absolute."""
    url = item.get("citation", {}).get("url")
    if url:
        item["link"] = web_url.rstrip("/") + url
    return item


def _arguments(model: type[BaseModel], **defaults: Any) -> list[inspect.Parameter]:
    """A tool's arguments: the fields of a request model, by their names, with the tool's own defaults."""
    return [inspect.Parameter(field.name, inspect.Parameter.KEYWORD_ONLY, default=defaults.get(field.name, field.default),
                              annotation=Annotated[field.annotation, Field(description=field.description)])
            for field in parameters(model)]


def _taking(model: type[BaseModel], tool: Callable[[Any], dict[str, Any]], **defaults: Any) -> Callable[..., dict[str, Any]]:
    """`tool`, which answers a request of `model`, as a function of the model's fields (what the SDK describes)."""
    arguments = _arguments(model, **defaults)

    def call(**given: Any) -> dict[str, Any]:
        return tool(model(**{name: value for name, value in given.items() if value is not None}))

    call.__name__, call.__doc__ = tool.__name__, tool.__doc__
    call.__signature__ = inspect.Signature(arguments, return_annotation=dict[str, Any])  # type: ignore[attr-defined]
    call.__annotations__ = {**{a.name: a.annotation for a in arguments}, "return": dict[str, Any]}
    return call


def build_server(settings: Settings, web_url: str = DEFAULT_WEB_URL) -> MCPServer:
    """The MCP server over the collection of `settings`; links point into the web app at `web_url`."""
    from qa.serialize import (
        DocumentDetail,
        DocumentsPage,
        Hit,
        PhraseTimeline,
        SearchResponse,
        UploadReport,
    )
    from qa.serialize_reuse import ReuseResponse
    from qa.types import Hit as Found

    holder = _Service(settings)
    server = _mcp_server_class()("speechqa", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")

    def results(payload: dict) -> dict:
        for item in payload.get("results", []):
            _linked(item, web_url)
        return payload

    def tool(model: type[BaseModel], **defaults: Any) -> Callable[[Callable[[Any], dict[str, Any]]], None]:
        def register(answer: Callable[[Any], dict[str, Any]]) -> None:
            server.tool()(_answers_errors(_taking(model, answer, **defaults)))

        return register

    @tool(SearchRequest)
    def search(request: SearchRequest) -> dict[str, Any]:
        """Passages that answer a question (any script or English), best first, each with its citation and link,
        and facets (counts by year, speaker, source). Dates are ISO (2022-06-10), inclusive. Years, months and
        speakers the question names favour documents that fit (listed in applied_filters); ignore_filters
        (["date:2024"]) switches some off, prefer=false all."""
        return results(SearchResponse.of(holder.get().search(request)).data())

    @tool(SimilarRequest)
    def similar(request: SimilarRequest) -> dict[str, Any]:
        """Passages of other documents that use similar policy language: give a pasted text or a stored chunk_id."""
        return results(SearchResponse.of(holder.get().similar(request)).data())

    @tool(PhraseRequest, limit=20)
    def phrase_timeline(request: PhraseRequest) -> dict[str, Any]:
        """Every exact occurrence of a phrase (提法) in either script: counts per month or year, the first use,
        who used it most, and the occurrences (phrase marked by highlights) with citations and links."""
        payload = PhraseTimeline.of(holder.reader().phrase(request)).data()
        for item in payload["occurrences"]:
            _linked(item, web_url)
        if payload["first"]:
            _linked(payload["first"], web_url)
        return payload

    @tool(ReuseRequest, limit=20)
    def reuse(request: ReuseRequest) -> dict[str, Any]:
        """Every document that reuses the wording of a stored passage (chunk_id) or a pasted text: shared runs of
        40+ letters in either script, each with its spans in both texts, the share reused and a citation and link;
        in time order, the earliest marked, counts per period, the passage's own series grouped (hide_series)."""
        payload = ReuseResponse.of(holder.reader().reuse(request)).data()
        for item in payload["reuses"]:
            _linked(item, web_url)
        return payload

    @tool(DocumentsRequest)
    def list_documents(listing: DocumentsRequest) -> dict[str, Any]:
        """The collection's documents (title, date, speaker, source, passages), a page at a time; with their links."""
        listing = listing.checked()
        rows, total = holder.reader().documents(listing.offset, listing.limit)
        payload = DocumentsPage.of(rows, total, listing.offset, listing.limit).data()
        for document in payload["documents"]:
            document["link"] = f"{web_url.rstrip('/')}/doc/{document['doc_id']}"
        return payload

    @server.tool()
    @_answers_errors
    def get_document(doc_id: str) -> dict[str, Any]:
        """A whole document: metadata, cleaned text, and its passages' offsets; with its link."""
        detail = DocumentDetail.of_document(*holder.reader().document(doc_id)).data()
        detail["link"] = f"{web_url.rstrip('/')}/doc/{doc_id}"
        return detail

    @server.tool()
    @_answers_errors
    def get_passage(chunk_id: str) -> dict[str, Any]:
        """One passage by its chunk_id, with its citation and link."""
        service = holder.reader()
        passage = service.passage(chunk_id)
        document = service.document(passage.doc_id)[0]
        item = Hit.of(Found(rank=1, score=0.0, passage=passage, document=document)).data()
        del item["rank"], item["score"], item["duplicates"]
        return _linked(item, web_url)

    if settings.token:
        token = settings.token

        def check(given: str) -> None:
            # Changes are offered only with a token, so the address the server listens on does not open them.
            refusal = change_refusal(token, given, host=settings.host, send="`token`", matches=token_matches)
            if refusal is not None:
                raise refusal

        @server.tool()
        @_answers_errors
        def add_document(text: str, token: str, title: str | None = None, date: str | None = None,
                         speaker: str | None = None, source: str = "mcp") -> dict[str, Any]:
            """Add one document (needs the server's token); answers with what was added, skipped or rejected."""
            from qa.types import RawDocument

            check(token)
            document = RawDocument(text=text, source=source, title=title, date=date, speaker=speaker)
            report = holder.get().changes.add_documents([document])
            return UploadReport.of(report).data()

        @server.tool()
        @_answers_errors
        def remove_document(doc_id: str, token: str) -> dict[str, Any]:
            """Remove a document and its passages (needs the server's token)."""
            check(token)
            holder.get().changes.remove_document(doc_id)
            return {"deleted": doc_id}

    for registered in server._tool_manager.list_tools():
        _refusing_unknown_arguments(registered)
    return server


def _refusing_unknown_arguments(tool: Any) -> None:
    """Make a registered tool (the SDK's Tool) refuse arguments it does not take: the SDK drops them silently,
    so an assistant that misspells one (`limit` for `k`) would get an answer to another question."""
    from pydantic import model_validator

    base = tool.fn_metadata.arg_model
    taken = sorted(field.alias or name for name, field in base.model_fields.items())
    name = tool.name

    class Checked(base):  # type: ignore[misc, valid-type]
        @model_validator(mode="before")
        @classmethod
        def _known(cls, data: Any) -> Any:
            unknown = sorted(set(data) - set(taken)) if isinstance(data, dict) else []
            if unknown:
                # pydantic reports a ValueError raised here, and the SDK returns it as the tool's error.
                which = ("argument ", "it") if len(unknown) == 1 else ("arguments ", "them")
                raise ValueError(f"{name} takes no {which[0]}{', '.join(map(repr, unknown))}: leave {which[1]} out; "
                                 f"{name} takes {', '.join(taken) or 'no arguments'}")
            return data

    Checked.__name__ = base.__name__
    tool.fn_metadata.arg_model = Checked
    tool.parameters["additionalProperties"] = False


def serve(settings: Settings, *, http: bool = False, host: str = "127.0.0.1", port: int = 8765,
          web_url: str = DEFAULT_WEB_URL) -> None:
    """Serve over stdio (what assistants start as a subprocess), or streamable HTTP at http://host:port/mcp."""
    if http and not is_loopback(host):
        raise BadInputError(f"the MCP server listens on loopback only (127.0.0.1, ::1, localhost), not {host!r}; "
                            "reach it from elsewhere through an SSH tunnel or a proxy that authenticates")
    server = build_server(settings, web_url)
    if http:
        import uvicorn

        # The SDK's own Host and Origin checks stay inside: ours only adds the whole-origin comparison.
        app = _WholeOrigins(server.streamable_http_app(host=host))
        uvicorn.run(app, host=host, port=port, log_level="warning")
    else:
        server.run("stdio")


class _WholeOrigins:
    """ASGI middleware: a request whose Origin is not a loopback page's as a whole is refused (403). The SDK
    compares origins by prefix, so `http://127.0.0.1:PORT.evil.example` would pass its check."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            foreign = [value.decode("latin-1") for key, value in scope["headers"]
                       if key == b"origin" and not is_loopback_origin(value.decode("latin-1"))]
            if foreign:
                body = (f"Origin {foreign[0]!r} is not a page on this machine: the MCP server answers pages "
                        "served from loopback (http://127.0.0.1:PORT, http://localhost:PORT) only").encode()
                await send({"type": "http.response.start", "status": 403,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
