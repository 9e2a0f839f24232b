"""Text reuse through every front end — the API, the pages, the CLI and MCP — over a collection with planted reuse, no model."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from fastapi.testclient import TestClient
from reuse_helpers import as_raw, planted_documents
from typer.testing import CliRunner

from embeddings.char_ngrams import CHAR_NGRAMS_MODEL, CharNgramEncoder
from qa.index.collection import Collection
from qa.ingest.pipeline import Ingester
from qa.search.service import SearchService
from qa.settings import Settings
from qa.text.fingerprints import reuse_codes


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    directory = tmp_path_factory.mktemp("reuse-web") / "data"
    encoder = CharNgramEncoder()
    collection = Collection.open(directory, encoder.name, create=True)
    documents, plants = planted_documents()
    Ingester(collection, encoder).add_records([as_raw(d) for d in documents])
    collection.close()
    return directory, plants


@pytest.fixture(scope="module")
def web(built, tmp_path_factory):
    from web.app import create_app

    directory = tmp_path_factory.mktemp("reuse-web-copy") / "data"
    shutil.copytree(built[0], directory)
    collection = Collection.open(directory, CHAR_NGRAMS_MODEL)
    settings = Settings.from_env({}, data_dir=directory, cache_dir=directory.parent / "cache")
    client = TestClient(create_app(settings, service=SearchService(collection, CharNgramEncoder())),
                        base_url="http://127.0.0.1")
    yield client, built[1]
    collection.close()


def a_planted_chunk(client, plant) -> tuple[str, dict]:
    """The stored passage holding a plant's copy in its source document, and the API's answer for it."""
    found = client.post("/api/reuse", json={"text": plant.text}).json()
    own = next(r for r in found["reuses"] if r["doc_id"] == plant.source)
    answer = client.get("/api/reuse", params={"chunk_id": own["chunk_id"]})
    assert answer.status_code == 200, answer.text
    return own["chunk_id"], answer.json()


def test_the_api_answers_a_passage_and_a_pasted_text_alike(web):
    client, plants = web
    plant = plants[0]
    chunk_id, by_chunk = a_planted_chunk(client, plant)
    assert by_chunk["source"]["chunk_id"] == chunk_id and by_chunk["source"]["citation"]["url"].endswith(chunk_id)
    assert plant.target in {r["doc_id"] for r in by_chunk["reuses"]}
    assert plant.source not in {r["doc_id"] for r in by_chunk["reuses"]}  # its own document is left out
    by_text = client.get("/api/reuse", params={"text": plant.text}).json()
    assert by_text["source"] == {"text": plant.text, "chunk_id": None, "doc_id": None, "citation": None}
    assert {r["doc_id"] for r in by_text["reuses"]} >= {plant.source, plant.target}
    reuse = next(r for r in by_chunk["reuses"] if r["doc_id"] == plant.target)
    # The contract's fields (docs/api.md), then what this speechqa adds.
    assert list(reuse)[:9] == ["rank", "chunk_id", "doc_id", "text", "shared_chars", "share", "spans", "source_spans",
                               "same_series"]
    assert list(by_chunk)[:5] == ["source", "total_documents", "earliest", "series", "reuses"]
    for run in reuse["alignment"]:
        start, end = run["source"]
        assert len(reuse_codes(by_chunk["source"]["text"][start:end])) == run["length"] >= by_chunk["min_run"]
    for start, end in reuse["spans"]:
        assert reuse_codes(reuse["text"][start:end]).tobytes() in reuse_codes(by_chunk["source"]["text"]).tobytes()
    assert reuse["source_spans"] == sorted(run["source"] for run in reuse["alignment"])
    assert reuse["shared_chars"] <= len(reuse_codes(by_chunk["source"]["text"])) and reuse["share"] > 0
    earliest = by_chunk["earliest"]
    assert earliest["chunk_id"] in {r["chunk_id"] for r in by_chunk["reuses"] if r["earliest"]} | {chunk_id}
    assert sum(p["documents"] for p in by_chunk["series"]) == by_chunk["total_documents"] - by_chunk["undated_documents"]


def test_the_top_list_links_each_passage_to_its_reuse(web):
    client, _ = web
    top = client.get("/api/reuse/top", params={"limit": 5}).json()
    assert top["passages"] and [p["rank"] for p in top["passages"]] == list(range(1, len(top["passages"]) + 1))
    first = top["passages"][0]
    assert first["reuse_url"] == f"/reuse?chunk_id={first['chunk_id']}"
    reuse = client.get("/api" + first["reuse_url"]).json()
    assert reuse["total_documents"] + 1 == first["documents"]


def test_bad_requests_are_400_with_what_to_change(web):
    client, _ = web
    assert client.get("/api/reuse").json()["error"]["message"].startswith("give either the chunk_id")
    assert client.get("/api/reuse", params={"chunk_id": "c-nope"}).status_code == 404
    assert client.post("/api/reuse", json={"text": "太短"}).status_code == 400
    assert client.get("/api/reuse/top", params={"limit": 0}).status_code == 400


def test_the_page_draws_the_chart_and_marks_both_sides(web):
    client, plants = web
    chunk_id, answer = a_planted_chunk(client, plants[0])
    html = client.get("/reuse", params={"chunk_id": chunk_id}).text
    drawn = [p for p in answer["series"] if p["documents"]]
    assert len(re.findall(r'<a class="bar"', html)) == len(drawn)
    assert len(re.findall(r'<section class="pair reuse', html)) == len(answer["reuses"])
    assert html.count("<mark>") >= 2 * len(answer["reuses"])
    assert 'class="badge earliest-badge"' in html or answer["earliest"]["is_source"]
    assert "<script>" not in html.split("<main", 1)[1]  # texts are escaped, never marked safe


def with_reuse(client, results: list[dict]) -> list[str]:
    return [hit["chunk_id"] for hit in results
            if client.get("/api/reuse", params={"chunk_id": hit["chunk_id"]}).json()["total_documents"]]


def reuse_links(html: str) -> list[str]:
    return re.findall(r'href="/reuse\?chunk_id=([^"]+)"', html)


def test_search_results_with_reuse_link_to_it_and_no_others(web):
    client, plants = web
    answer = client.get("/api/search", params={"q": plants[0].text, "k": 10}).json()
    reused = with_reuse(client, answer["results"])
    assert reused and len(reused) < len(answer["results"])  # both kinds of result are on the page
    assert reuse_links(client.get("/search", params={"q": plants[0].text, "k": 10}).text) == reused


def test_similar_results_with_reuse_link_to_it_and_no_others(web):
    client, plants = web
    chunk_id, _ = a_planted_chunk(client, plants[0])
    answer = client.post("/api/similar", json={"chunk_id": chunk_id, "k": 10}).json()
    reused = with_reuse(client, answer["results"])
    assert reused and len(reused) < len(answer["results"])
    assert reuse_links(client.get("/similar", params={"chunk": chunk_id, "k": 10}).text) == reused


def test_the_cli_prints_reuses_with_citations(built, tmp_path):
    from qa.cli import app

    directory = tmp_path / "data"
    shutil.copytree(built[0], directory)
    plant = built[1][0]
    runner = CliRunner()
    result = runner.invoke(app, ["reuse", "--text", plant.text, "--data", str(directory), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    own = next(r for r in payload["reuses"] if r["doc_id"] == plant.source)
    result = runner.invoke(app, ["reuse", own["chunk_id"], "--data", str(directory)])
    assert result.exit_code == 0, result.output
    assert "documents reuse its wording" in result.output and f"{plant.target}#" in result.output
    result = runner.invoke(app, ["reuse-top", "--limit", "3", "--data", str(directory)])
    assert result.exit_code == 0 and "speechqa reuse c-" in result.output


def test_the_mcp_tool_answers_with_citations_and_links(built, tmp_path):
    pytest.importorskip("mcp", reason="the mcp package is not installed (pip install 'speechqa[mcp]')")
    import anyio

    from qa import mcp_server

    directory = tmp_path / "data"
    shutil.copytree(built[0], directory)
    plant = built[1][0]
    server = mcp_server.build_server(Settings.from_env({}, data_dir=directory, cache_dir=tmp_path / "cache"))

    async def call():
        return await server.call_tool("reuse", {"text": plant.text})

    result = anyio.run(call)
    assert not result.is_error, result.content
    payload = result.structured_content
    assert {r["doc_id"] for r in payload["reuses"]} >= {plant.source, plant.target}
    assert all(r["link"].startswith("http://127.0.0.1:8000/doc/") and r["citation"] for r in payload["reuses"])
