"""`speechqa mcp` started as a subprocess over the seed collection, driven by the MCP SDK's own stdio client
(with the n-gram encoder: what is tested is the MCP server, not the model)."""

from __future__ import annotations

import json
import os

import pytest
from conftest import ROOT, copy_of, speechqa_command

from tests.fakes import char_ngrams_env

mcp = pytest.importorskip("mcp", reason="the mcp package is not installed (pip install 'speechqa[mcp]')")
from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402

WEB = "http://127.0.0.1:8000"
QUESTION = "招商引资进度为什么落后"
ANSWER = "招商引資進度全市排名最后"
READ_TOOLS = {"search", "similar", "list_documents", "get_document", "get_passage", "phrase_timeline", "reuse"}
CITATION_KEYS = {"title", "date", "speaker", "place", "source", "section", "char_start", "char_end", "url"}


def payload(result) -> dict:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


def check_cited(item: dict) -> None:
    citation = item["citation"]
    assert set(citation) == CITATION_KEYS
    assert citation["url"] == f"/doc/{item['doc_id']}#{item['chunk_id']}"
    assert item["link"] == WEB + citation["url"]
    assert citation["char_end"] - citation["char_start"] == len(item["text"])


def run_session(data_dir, cache_dir, steps, token: str | None = None):
    """Start `speechqa mcp` over stdio, then run `steps(session)` inside an initialised client session."""
    import anyio

    env = char_ngrams_env({"SPEECHQA_CACHE": str(cache_dir), "SPEECHQA_DATA": str(data_dir), "PATH": os.environ.get("PATH", "")})
    if token:
        env["SPEECHQA_TOKEN"] = token
    command, *args = speechqa_command(fake=True)
    params = StdioServerParameters(command=command, args=[*args, "mcp", "--web-url", WEB], env=env, cwd=str(ROOT))

    async def main():
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return await steps(session)

    return anyio.run(main)


@pytest.fixture(scope="module")
def mcp_data(fake_seed_collection_dir, tmp_path_factory):
    return copy_of(fake_seed_collection_dir, tmp_path_factory, "mcp")


def test_every_tool_answers_with_citations_and_links(mcp_data, model_cache_dir):
    async def steps(session):
        tools = {tool.name for tool in (await session.list_tools()).tools}
        found = payload(await session.call_tool("search", {"query": QUESTION, "k": 5}))
        chunk_id = found["results"][0]["chunk_id"]
        return {
            "tools": tools,
            "search": found,
            "similar": payload(await session.call_tool("similar", {"chunk_id": chunk_id, "k": 3})),
            "passage": payload(await session.call_tool("get_passage", {"chunk_id": chunk_id})),
            "document": payload(await session.call_tool("get_document", {"doc_id": found["results"][0]["doc_id"]})),
            "phrase": payload(await session.call_tool("phrase_timeline", {"phrase": "招商引资", "limit": 3})),
            "listed": payload(await session.call_tool("list_documents", {"offset": 1, "limit": 2})),
            "reuse": payload(await session.call_tool("reuse", {"text": found["results"][0]["text"]})),
            "missing": await session.call_tool("get_passage", {"chunk_id": "c-nope"}),
        }

    out = run_session(mcp_data, model_cache_dir, steps)
    assert out["tools"] == READ_TOOLS  # no token: nothing that changes the collection

    results = out["search"]["results"]
    assert len(results) == 5 and any(ANSWER in hit["text"] for hit in results[:3])
    for hit in results:
        check_cited(hit)
    assert {f["value"] for f in out["search"]["facets"]["source"]}

    source_doc = results[0]["doc_id"]
    assert out["similar"]["results"] and all(hit["doc_id"] != source_doc for hit in out["similar"]["results"])
    for hit in out["similar"]["results"]:
        check_cited(hit)

    passage = out["passage"]
    assert (passage["chunk_id"], passage["text"]) == (results[0]["chunk_id"], results[0]["text"])
    check_cited(passage)

    document = out["document"]
    assert document["doc_id"] == source_doc and document["link"] == f"{WEB}/doc/{source_doc}"
    start = passage["citation"]["char_start"]
    assert document["text"][start:start + len(passage["text"])] == passage["text"]

    phrase = out["phrase"]
    assert (phrase["total_occurrences"], phrase["total_documents"]) == (6, 3)  # both scripts: the seeds say 招商引資
    assert len(phrase["occurrences"]) == 3
    for item in [phrase["first"], *phrase["occurrences"]]:
        check_cited(item)
        (a, b), = item["highlights"]
        assert item["text"][a:b] == "招商引資"

    listed = out["listed"]
    assert (listed["total"], listed["offset"], listed["limit"], len(listed["documents"])) == (5, 1, 2, 2)
    assert all(d["link"] == f"{WEB}/doc/{d['doc_id']}" for d in listed["documents"])

    reuse = out["reuse"]  # a pasted passage: its own document holds all of its wording
    own = next(r for r in reuse["reuses"] if r["chunk_id"] == results[0]["chunk_id"])
    assert own["share"] == 1.0 and reuse["total_documents"] == len(reuse["reuses"]) >= 1
    for item in reuse["reuses"]:
        check_cited(item)

    assert out["missing"].is_error
    assert "no passage with chunk_id 'c-nope'" in out["missing"].content[0].text


def test_a_tool_refuses_arguments_it_does_not_take(mcp_data, model_cache_dir):
    async def steps(session):
        schemas = {tool.name: tool.input_schema for tool in (await session.list_tools()).tools}
        misspelt = await session.call_tool("search", {"query": QUESTION, "limt": 3})
        extra = await session.call_tool("get_document", {"doc_id": "d-0000000000000000", "token": "x", "verbose": True})
        return schemas, misspelt, extra

    schemas, misspelt, extra = run_session(mcp_data, model_cache_dir, steps)
    assert all(schema["additionalProperties"] is False for schema in schemas.values())
    assert misspelt.is_error and "search takes no argument 'limt': leave it out; search takes " in misspelt.content[0].text
    assert " k, " in misspelt.content[0].text
    assert extra.is_error and "get_document takes no arguments 'token', 'verbose': leave them out; get_document takes doc_id" \
        in extra.content[0].text


def test_a_token_adds_the_tools_that_change_the_collection(mcp_data, model_cache_dir):
    async def steps(session):
        tools = {tool.name for tool in (await session.list_tools()).tools}
        wrong = await session.call_tool("remove_document", {"doc_id": "d-0000000000000000", "token": "guess"})
        return tools, wrong

    tools, wrong = run_session(mcp_data, model_cache_dir, steps, token="secret")
    assert tools == READ_TOOLS | {"add_document", "remove_document"}
    assert wrong.is_error and "the token is wrong" in wrong.content[0].text


def test_streamable_http_on_loopback(mcp_data, model_cache_dir, tmp_path):
    import subprocess
    import time

    import anyio
    import httpx
    from conftest import free_port
    from mcp.client.streamable_http import streamable_http_client

    port = free_port()
    env = char_ngrams_env({**os.environ, "SPEECHQA_CACHE": str(model_cache_dir), "SPEECHQA_DATA": str(mcp_data)})
    env.pop("SPEECHQA_TOKEN", None)
    with open(tmp_path / "mcp.log", "wb") as log:
        process = subprocess.Popen([*speechqa_command(fake=True), "mcp", "--http", "--port", str(port)],
                                   env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT))
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "mcp.log").read_text()
            try:
                httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the MCP server did not answer in 60 s"
                time.sleep(0.3)

        async def main():
            async with streamable_http_client(f"http://127.0.0.1:{port}/mcp") as streams, \
                    ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                tools = {tool.name for tool in (await session.list_tools()).tools}
                return tools, payload(await session.call_tool("phrase_timeline", {"phrase": "招商引資", "limit": 1}))

        tools, timeline = anyio.run(main)
        assert tools == READ_TOOLS
        # Origins are compared whole: a name that merely starts like a loopback origin is refused.
        hello = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        accept = {"accept": "application/json, text/event-stream"}
        for origin in (f"http://127.0.0.1:{port}.evil.example", "http://evil.example", "null"):
            refused = httpx.post(f"http://127.0.0.1:{port}/mcp", json=hello, headers={**accept, "origin": origin}, timeout=10)
            assert refused.status_code == 403 and f"Origin {origin!r} is not a page on this machine" in refused.text
        own = httpx.post(f"http://127.0.0.1:{port}/mcp", json=hello, headers={**accept, "origin": f"http://localhost:{port}"},
                         timeout=10)
        assert own.status_code != 403, own.text
        assert timeline["total_occurrences"] == 6
        check_cited(timeline["occurrences"][0])
    finally:
        process.terminate()
        process.wait(10)


def test_http_listens_on_loopback_only(mcp_data, model_cache_dir):
    import subprocess

    done = subprocess.run([*speechqa_command(fake=True), "mcp", "--http", "--host", "0.0.0.0", "--data", str(mcp_data)],
                          capture_output=True, text=True, cwd=str(ROOT), timeout=60,
                          env=char_ngrams_env({**os.environ, "SPEECHQA_CACHE": str(model_cache_dir)}))
    assert done.returncode != 0
    assert "the MCP server listens on loopback only" in done.stderr
