"""The HTTP API tests of tests/test_api.py, run as they are against a server whose collection is in
Milvus: a real speechqa server on loopback with SPEECHQA_INDEX naming a `milvus-lite server` that this
module starts, holding the seed collection copied with its vectors."""

from __future__ import annotations

import inspect

import pytest

pytest.importorskip("pymilvus")

import test_api  # noqa: E402
from conftest import Server, copy_of  # noqa: E402
from test_api import api, doc_text, seed_ids  # noqa: E402, F401
from test_milvus import LiteServer  # noqa: E402
from test_milvus_service import _milvus_copy  # noqa: E402

# Every API test that talks to the module's server (not those building their own app or token server).
_OWN_SERVERS = {"token_server", "app_factory", "settings_factory"}
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
    patch = pytest.MonkeyPatch()
    patch.setenv("SPEECHQA_INDEX", index)
    try:
        running = Server(copy_of(seed_collection_dir, tmp_path_factory, "milvus-api-tests"), model_cache_dir)
    finally:
        patch.undo()
    yield running
    running.stop()
    lite.stop()


def test_the_server_answers_from_milvus(api):  # noqa: F811 - the fixture imported above
    assert api.get("/healthz").json()["index"] == "milvus:HNSW"
