"""qa/search/requests.py: one request model per operation, its one validation, and every front end taking its fields.

The front-end tests run each front end (the API's GET and POST, the pages, the CLI, the MCP tools) over a
service that records the request it is given, so they need neither the model nor a collection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qa.errors import BadInputError
from qa.search.phrase import PhraseTimeline
from qa.search.requests import (
    OPERATIONS,
    DocumentsRequest,
    PhraseRequest,
    ReuseRequest,
    SearchRequest,
    SimilarRequest,
    TopReuseRequest,
    parameters,
)
from qa.search.reuse import ReuseReport
from qa.search.reuse_top import TopReuse
from qa.search.service import SearchResult
from qa.settings import Settings
from qa.types import PassageFilter

# A value for every field of every request model, each unlike its default.
SAMPLE: dict[str, Any] = {
    "doc_ids": ("d-0000000000000001", "d-0000000000000002"), "date_from": "2022-01-01", "date_to": "2022-12-31",
    "speaker": "张三", "source": "www.gov.cn", "query": "工业强县", "k": 7, "mode": "lexical",
    "exclude_doc": "d-0000000000000003", "prefer": False, "ignore_filters": ("date:2024",), "text": "坚持工业立县",
    "chunk_id": "c-0000000000000001", "phrase": "工业", "granularity": "year", "offset": 3, "limit": 9,
    "hide_series": True,
}
# What each front end takes besides an operation's fields, and nothing else.
API_GET_EXTRAS = {"search": {"format"}, "phrase": {"format"}, "documents": set(), "reuse": set(), "reuse_top": set()}
CLI_EXTRAS = {"data", "model", "as_json", "index", "reranker"}
CLI_COMMANDS = {"search": ["search"], "similar": ["similar"], "phrase": ["phrase"], "documents": ["docs", "list"],
                "reuse": ["reuse"], "reuse_top": ["reuse-top"]}
MCP_TOOLS = {"search": "search", "similar": "similar", "phrase": "phrase_timeline", "documents": "list_documents",
             "reuse": "reuse"}
POSITIONAL = {"search": "query", "similar": "text", "phrase": "phrase", "reuse": "chunk_id"}  # the CLI's argument
PAGES = {"search": "/search", "phrase": "/phrase", "documents": "/documents", "reuse": "/reuse", "reuse_top": "/reuse/top"}


def sample(model: type) -> Any:
    return model(**{field.name: SAMPLE[field.name] for field in parameters(model)})


class RecordingService:
    """Answers every operation with nothing, and keeps what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, Any]] = []

    def search(self, request: SearchRequest) -> SearchResult:
        self.asked.append(("search", request))
        return SearchResult(request.query, request.mode, 0.0, [])

    def similar(self, request: SimilarRequest) -> SearchResult:
        self.asked.append(("similar", request))
        return SearchResult(request.text or "", "hybrid", 0.0, [])

    def phrase(self, request: PhraseRequest) -> PhraseTimeline:
        self.asked.append(("phrase", request))
        return PhraseTimeline(request.phrase, "year", 0, 0, 0, None, (), (), (), (), request.offset, request.limit, 0.0)

    def reuse(self, request: ReuseRequest) -> ReuseReport:
        self.asked.append(("reuse", request))
        return ReuseReport(request.text or "", None, None, 40, "year", 0, 0, None, None, False, 0, (), None, (),
                           request.offset, request.limit, 0.0)

    def reuse_top(self, request: TopReuseRequest) -> TopReuse:
        self.asked.append(("reuse_top", request))
        return TopReuse((), 0, 0.0)

    def reused(self, passages) -> set[str]:
        return set()

    def documents(self, offset: int = 0, limit: int = 50) -> tuple[list, int]:
        self.asked.append(("documents", DocumentsRequest(offset=offset, limit=limit)))
        return [], 0

    def stats(self) -> dict:
        return {"documents": 0, "chunks": 0, "model": "fake", "index": "flat", "index_recall_at_10": None}


def as_given(request: Any) -> dict[str, Any]:
    """A request's fields, whatever front end's form of the model carried them."""
    return {name: getattr(request, name) for name in type(request).model_fields}


def url_params(model: type) -> list[tuple[str, Any]]:
    """Every field of `model` as a query string (or a form) states it: by alias, a list repeated, false as 'false'."""
    pairs = []
    for field in parameters(model):
        value = SAMPLE[field.name]
        for one in value if isinstance(value, tuple) else [value]:
            pairs.append((field.alias, str(one).lower() if isinstance(one, bool) else one))
    return pairs


def form_fields(model: type) -> dict[str, list]:
    fields: dict[str, list] = {}
    for name, value in url_params(model):
        fields.setdefault(name, []).append(value)
    return fields


@pytest.fixture
def web(tmp_path):
    from web.app import create_app

    service = RecordingService()
    settings = Settings.from_env({}, data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    return TestClient(create_app(settings, service=service), base_url="http://127.0.0.1"), service


# -- validation, once, with messages that say what to change ----------------------------------
def test_the_api_names_and_the_field_names_are_one_request():
    by_alias = SearchRequest.model_validate({"q": "工业", "doc": "d-1", "ignore_filter": "date:2024"})
    by_name = SearchRequest(query="工业", doc_ids=("d-1",), ignore_filters=("date:2024",))
    assert by_alias == by_name
    assert by_name.where == PassageFilter(doc_ids=("d-1",))


def test_a_checked_search_is_normalised():
    checked = SearchRequest(query=" 招商引资\x00进度 ", date_from="2022-06-01", speaker="",
                            source="", ignore_filters=(" date : 2024 ", "")).checked()
    assert (checked.query, checked.date_from, checked.speaker, checked.source) == ("招商引资 进度", "2022-06-01", None, None)
    assert checked.ignore_filters == ("date:2024",)


@pytest.mark.parametrize(("request_", "message"), [
    (SearchRequest(query="\x00\x01"), "the query is empty: type a question or paste a passage as q"),
    (SearchRequest(query="工" * 2001), "the query is 2001 characters long; shorten it to at most 2000"),
    (SearchRequest(query="工业", k=0), "k must be between 1 and 100, not 0"),
    (SearchRequest(query="工业", mode="fuzzy"), "mode must be one of hybrid, dense, lexical, not 'fuzzy'"),
    (SearchRequest(query="工业", date_to="2022-02-30"), "date_to must be an ISO date such as 2022-06-10, not '2022-02-30'"),
    (SearchRequest(query="工业", date_from="2023-01-01", date_to="2022-01-01"),
     "date_from (2023-01-01) is after date_to (2022-01-01); swap them"),
    (SearchRequest(query="工业", exclude_doc="\ud800"), "exclude_doc holds an unpaired surrogate"),
    (SearchRequest(query="工业", source="\udfff"), "source holds an unpaired surrogate"),
    (SearchRequest(query="工业", ignore_filters=("2024",)), "ignore_filter takes kind:value"),
    (PhraseRequest(phrase="工业", speaker="\ud800"), "speaker holds an unpaired surrogate"),
    (PhraseRequest(phrase="工业", offset=10**9 + 1), "offset must be at most 1,000,000,000, not 1000000001"),
    (PhraseRequest(phrase="工业", offset=-1), "offset must be ≥ 0 and limit between 1 and 10000"),
    (PhraseRequest(phrase="工业", date_from="2023-01-01", date_to="2022-01-01"),
     "date_from (2023-01-01) is after date_to (2022-01-01); swap them"),
    (DocumentsRequest(limit=501), "offset must be between 0 and 1,000,000,000 and limit between 1 and 500, "
                                  "not offset=0, limit=501"),
])
def test_bad_requests_say_what_to_change(request_, message):
    with pytest.raises(BadInputError) as raised:
        request_.checked()
    assert str(raised.value).startswith(message)


def test_a_similar_request_is_a_search_for_its_text():
    similar = SimilarRequest(text="ignored", chunk_id="c-1", k=3, speaker="张三", prefer=False)
    search = similar.search("the stored passage's text", "d-9")
    assert (search.query, search.k, search.exclude_doc, search.speaker, search.prefer, search.mode) == \
        ("the stored passage's text", 3, "d-9", "张三", False, "hybrid")
    with pytest.raises(BadInputError, match="give the text to compare"):
        similar.search("  ", None)
    with pytest.raises(BadInputError, match="chunk_id holds an unpaired surrogate"):
        SimilarRequest(chunk_id="c-\ud800").stored_chunk()


# -- every front end takes the same fields ------------------------------------------------------
def test_the_openapi_description_states_each_operations_fields(web):
    client, _ = web
    paths = client.get("/openapi.json").json()["paths"]
    for operation, path in (("search", "/api/search"), ("phrase", "/api/phrase"), ("documents", "/api/documents"),
                            ("reuse", "/api/reuse"), ("reuse_top", "/api/reuse/top")):
        aliases = {field.alias for field in parameters(OPERATIONS[operation])}
        assert {p["name"] for p in paths[path]["get"]["parameters"]} == aliases | API_GET_EXTRAS[operation], path
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for operation, body in (("search", "SearchBody"), ("similar", "SimilarBody")):
        assert set(schemas[body]["properties"]) == {field.alias for field in parameters(OPERATIONS[operation])}


@pytest.mark.parametrize("operation", ["search", "phrase", "documents", "reuse", "reuse_top"])
def test_the_api_get_and_the_page_pass_every_field_on(web, operation):
    client, service = web
    model = OPERATIONS[operation]
    path = PAGES[operation]
    for url in (f"/api{path}", path):
        service.asked.clear()
        response = client.get(url, params=url_params(model))
        assert response.status_code == 200, response.text
        (asked, request), = service.asked
        assert (asked, as_given(request)) == (operation, as_given(sample(model))), url


@pytest.mark.parametrize("operation", ["search", "similar", "reuse"])
def test_the_api_post_passes_every_field_on(web, operation):
    client, service = web
    model = OPERATIONS[operation]
    body = {field.alias: SAMPLE[field.name] for field in parameters(model)}
    response = client.post(f"/api/{operation}", json=body)
    assert response.status_code == 200, response.text
    (asked, request), = service.asked
    assert (asked, as_given(request)) == (operation, as_given(sample(model)))


def test_the_similar_page_passes_every_field_on_from_a_link_and_from_its_form(web):
    client, service = web
    for response in (client.get("/similar", params=url_params(SimilarRequest)),
                     client.post("/similar", data=form_fields(SimilarRequest)),
                     client.get("/similar", params={"chunk": "c-0000000000000001"})):  # the links' older name
        assert response.status_code == 200, response.text
    (_, from_link), (_, from_form), (_, old_link) = service.asked
    assert as_given(from_link) == as_given(from_form) == as_given(sample(SimilarRequest))
    assert old_link.chunk_id == "c-0000000000000001"


@pytest.mark.parametrize("operation", ["search", "similar", "phrase", "documents", "reuse", "reuse_top"])
def test_the_cli_takes_every_field(monkeypatch, tmp_path, operation):
    import typer.main

    import qa.cli

    model = OPERATIONS[operation]
    service = RecordingService()
    monkeypatch.setattr(qa.cli, "open_service", lambda settings: service)
    monkeypatch.setattr(qa.cli, "_browser", lambda settings: service)
    group: Any = typer.main.get_command(qa.cli.app)
    command = group
    for name in CLI_COMMANDS[operation]:
        command = command.commands[name]
    options = {param.name for param in command.params}
    fields = {field.name for field in parameters(model)}
    assert fields <= options and options - fields <= CLI_EXTRAS, options

    arguments = [*CLI_COMMANDS[operation]]
    for field in parameters(model):
        value = SAMPLE[field.name]
        if field.name == POSITIONAL.get(operation):
            arguments.insert(len(CLI_COMMANDS[operation]), value)
        elif isinstance(value, bool):
            arguments.append(f"--{field.alias}" if value else f"--no-{field.alias}")
        else:
            for one in value if isinstance(value, tuple) else [value]:
                arguments += ["--" + field.alias.replace("_", "-"), str(one)]
    result = CliRunner().invoke(qa.cli.app, [*arguments, "--data", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (asked, request), = service.asked
    assert (asked, as_given(request)) == (operation, as_given(sample(model)))


@pytest.mark.parametrize("operation", ["search", "similar", "phrase", "documents", "reuse"])
def test_the_mcp_tools_take_every_field(monkeypatch, tmp_path, operation):
    pytest.importorskip("mcp", reason="the mcp package is not installed (pip install 'speechqa[mcp]')")
    import anyio

    from qa import mcp_server

    model = OPERATIONS[operation]
    service = RecordingService()
    monkeypatch.setattr(mcp_server._Service, "get", lambda self: service)
    monkeypatch.setattr(mcp_server._Service, "reader", lambda self: service)
    server = mcp_server.build_server(Settings.from_env({}, data_dir=Path(tmp_path), cache_dir=Path(tmp_path)))
    name = MCP_TOOLS[operation]

    async def call() -> tuple[set[str], Any]:
        tools = {tool.name: tool for tool in await server.list_tools()}
        arguments = {field.name: list(SAMPLE[field.name]) if isinstance(SAMPLE[field.name], tuple) else SAMPLE[field.name]
                     for field in parameters(model)}
        return set(tools[name].input_schema["properties"]), await server.call_tool(name, arguments)

    properties, result = anyio.run(call)
    assert properties == {field.name for field in parameters(model)}
    assert not result.is_error, result.content
    (asked, request), = service.asked
    assert (asked, as_given(request)) == (operation, as_given(sample(model)))
