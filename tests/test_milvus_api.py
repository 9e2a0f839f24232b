"""The HTTP API tests of tests/test_api.py, run as they are against a server whose collection is in
Milvus: a real speechqa server on loopback with SPEECHQA_INDEX naming a `milvus-lite server` that this
module starts, holding the seed collection copied with its vectors. Here the tests that test_api runs with the
n-gram encoder (`fake_server`) run with the real model too: one server over Milvus answers them all."""

from __future__ import annotations

import inspect

import pytest

pytest.importorskip("pymilvus")

import test_api  # noqa: E402
from conftest import Server, copy_of  # noqa: E402
from test_api import api, doc_text, model_api, seed_ids  # noqa: E402, F401
from test_milvus import LiteServer  # noqa: E402
from test_milvus_service import _milvus_copy  # noqa: E402

# Every API test that talks to the module's server (not those building their own app or token server).
_OWN_SERVERS = {"token_server", "fake_token_server", "app_factory", "settings_factory"}
globals().update({
    name: test for name, test in vars(test_api).items()
    if name.startswith("test_") and callable(test) and not _OWN_SERVERS & set(inspect.signature(test).parameters)
})


@pytest.fixture(scope="module")
def server(seed_collection_dir, model_cache_dir, tmp_path_factory):
    """Overrides conftest's `server` for the tests imported above: the same API, over Milvus."""
    lite = LiteServer(tmp_path_factory.mktemp("api-milvus") / "data")
    index = lite.index + "/api_tests"
    _milvus_copy(seed_collection_dir, index).close()
    running = Server(copy_of(seed_collection_dir, tmp_path_factory, "milvus-api-tests"), model_cache_dir, index=index)
    yield running
    running.stop()
    lite.stop()


@pytest.fixture(scope="module")
def fake_server(server):
    """Overrides conftest's `fake_server` for the tests imported above: the same server over Milvus."""
    return server


def test_the_server_answers_from_milvus(api):  # noqa: F811 - the fixture imported above
    assert api.get("/healthz").json()["index"] == "milvus:HNSW"


def test_similar_to_a_stored_passage_leaves_out_its_own_speech(api, seed_ids):  # noqa: F811 - Milvus's own version
    """As test_api's, but shared wording is asked of the five results, not of the first: a Milvus copy
    holds each passage's one vector (its sentences' mean) and no sentence vectors to score by, so the
    nearest passage by that vector need not share the source's words (README, "Retrieval quality")."""
    source = api.get("/api/search", params={"q": test_api.QUESTION, "k": 1}).json()["results"][0]
    body = api.post("/api/similar", json={"chunk_id": source["chunk_id"], "k": 5}).json()
    assert body["source"] == {"chunk_id": source["chunk_id"], "doc_id": source["doc_id"], "text": source["text"]}
    results = test_api.check_results(body, query=source["text"], mode="hybrid")
    assert len(results) == 5 and source["doc_id"] not in {hit["doc_id"] for hit in results}
    assert any(hit["highlights"] and hit["query_highlights"] for hit in results)


def test_reuse_answers_from_a_local_index_beside_milvus(api):  # noqa: F811 - the fixture imported above
    hit = api.get("/api/search", params={"q": test_api.QUESTION, "k": 1}).json()["results"][0]
    pasted = api.post("/api/reuse", json={"text": hit["text"]})
    assert pasted.status_code == 200, pasted.text
    own = [r for r in pasted.json()["reuses"] if r["chunk_id"] == hit["chunk_id"]]
    assert len(own) == 1 and own[0]["share"] == 1.0 and own[0]["citation"]["url"].endswith(hit["chunk_id"])
    by_chunk = api.get("/api/reuse", params={"chunk_id": hit["chunk_id"]})
    assert by_chunk.status_code == 200 and by_chunk.json()["source"]["chunk_id"] == hit["chunk_id"]
    assert api.get("/api/reuse/top").status_code == 200
