"""`speechqa mcp`: the collection as Model Context Protocol tools, so AI assistants answer from it with our citations.

Tools mirror the JSON API (../shared/API.md): search, similar, get_document, get_passage,
phrase_timeline; every passage they return carries its citation and a link into the web app. The
server only reads, unless a token is configured (SPEECHQA_TOKEN): then add_document and
remove_document are offered too, and each call must carry that token.

Uses the official `mcp` SDK (the optional extra `speechqa[mcp]`), imported only here.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qa.app import ServiceHolder
from qa.errors import BadInputError, ForbiddenError, MissingDependencyError, SpeechQAError
from qa.settings import Settings

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from qa.search.service import SearchService

DEFAULT_WEB_URL = "http://127.0.0.1:8000"
INSTRUCTIONS = (
    "Search a collection of speeches and policy texts (Chinese, either script, or English questions). "
    "Quote passages with their citation (title, date, speaker, section) and link, and prefer "
    "phrase_timeline for questions about when or how often an exact formulation was used."
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


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_server(settings: Settings, web_url: str = DEFAULT_WEB_URL) -> MCPServer:
    """The MCP server over the collection of `settings`; links point into the web app at `web_url`."""
    from qa.search.phrase import PhraseRequest
    from qa.search.service import SearchRequest
    from qa.serialize import document_detail, hit_to_dict, result_to_dict, timeline_to_dict
    from qa.types import Hit

    holder = _Service(settings)
    server = _mcp_server_class()("speechqa", instructions=INSTRUCTIONS, version="0.1.0", log_level="WARNING")

    def results(payload: dict) -> dict:
        for item in payload.get("results", []):
            _linked(item, web_url)
        return payload

    @server.tool()
    @_answers_errors
    def search(query: str, k: int = 10, mode: str = "hybrid", doc_ids: list[str] | None = None,
               date_from: str | None = None, date_to: str | None = None, speaker: str | None = None,
               source: str | None = None, prefer: bool = True, ignore_filters: list[str] | None = None) -> dict[str, Any]:
        """Passages that answer a question (any script or English), best first, each with its citation and link,
        and facets (counts by year, speaker, source). Dates are ISO (2022-06-10), inclusive. Years, months and
        speakers the question names favour documents that fit (listed in applied_filters); ignore_filters
        (["date:2024"]) switches some off, prefer=false all."""
        request = SearchRequest(query=query, k=k, mode=mode, doc_ids=tuple(doc_ids or ()), date_from=date_from,
                                date_to=date_to, speaker=speaker, source=source, prefer=prefer,
                                ignore_filters=tuple(ignore_filters or ()))
        return results(result_to_dict(holder.get().search(request)))

    @server.tool()
    @_answers_errors
    def similar(text: str | None = None, chunk_id: str | None = None, k: int = 10,
                exclude_doc: str | None = None) -> dict[str, Any]:
        """Passages of other documents that use similar policy language: give a pasted text or a stored chunk_id."""
        return results(result_to_dict(holder.get().similar(text=text, chunk_id=chunk_id, k=k, exclude_doc=exclude_doc)))

    @server.tool()
    @_answers_errors
    def get_document(doc_id: str) -> dict[str, Any]:
        """A whole document: metadata, cleaned text, and its passages' offsets; with its link."""
        detail = document_detail(*holder.reader().document(doc_id))
        detail["link"] = f"{web_url.rstrip('/')}/doc/{doc_id}"
        return detail

    @server.tool()
    @_answers_errors
    def get_passage(chunk_id: str) -> dict[str, Any]:
        """One passage by its chunk_id, with its citation and link."""
        service = holder.reader()
        passage = service.passage(chunk_id)
        document = service.document(passage.doc_id)[0]
        item = hit_to_dict(Hit(rank=1, score=0.0, passage=passage, document=document))
        del item["rank"], item["score"], item["duplicates"]
        return _linked(item, web_url)

    @server.tool()
    @_answers_errors
    def phrase_timeline(phrase: str, doc_ids: list[str] | None = None, date_from: str | None = None,
                        date_to: str | None = None, speaker: str | None = None, source: str | None = None,
                        granularity: str = "auto", offset: int = 0, limit: int = 20) -> dict[str, Any]:
        """Every exact occurrence of a phrase (提法) in either script: counts per month or year, the first use,
        who used it most, and the occurrences (phrase marked by highlights) with citations and links."""
        request = PhraseRequest(phrase=phrase, doc_ids=tuple(doc_ids or ()), date_from=date_from, date_to=date_to,
                                speaker=speaker, source=source, granularity=granularity, offset=offset, limit=limit)
        payload = timeline_to_dict(holder.reader().phrase(request))
        for item in payload["occurrences"]:
            _linked(item, web_url)
        if payload["first"]:
            _linked(payload["first"], web_url)
        return payload

    if settings.token:
        token = settings.token

        def check(given: str) -> None:
            if not hmac.compare_digest((given or "").encode(), token.encode()):
                raise ForbiddenError("the token is wrong: pass the value of SPEECHQA_TOKEN as `token`")

        @server.tool()
        @_answers_errors
        def add_document(text: str, token: str, title: str | None = None, date: str | None = None,
                         speaker: str | None = None, source: str = "mcp") -> dict[str, Any]:
            """Add one document (needs the server's token); answers with what was added, skipped or rejected."""
            from qa.types import RawDocument

            check(token)
            return holder.get().changes.add_documents([RawDocument(text=text, source=source, title=title, date=date,
                                                                   speaker=speaker)]).as_dict()

        @server.tool()
        @_answers_errors
        def remove_document(doc_id: str, token: str) -> dict[str, Any]:
            """Remove a document and its passages (needs the server's token)."""
            check(token)
            holder.get().changes.remove_document(doc_id)
            return {"deleted": doc_id}

    return server


def serve(settings: Settings, *, http: bool = False, host: str = "127.0.0.1", port: int = 8765,
          web_url: str = DEFAULT_WEB_URL) -> None:
    """Serve over stdio (what assistants start as a subprocess), or streamable HTTP at http://host:port/mcp."""
    if http and not _is_loopback(host):
        raise BadInputError(f"the MCP server listens on loopback only (127.0.0.1, ::1, localhost), not {host!r}; "
                            "reach it from elsewhere through an SSH tunnel or a proxy that authenticates")
    server = build_server(settings, web_url)
    if http:
        server.run("streamable-http", host=host, port=port)
    else:
        server.run("stdio")
