"""The HTTP API tests of tests/test_api.py, run as they are against a server whose collection is in
Milvus: a real speechqa server on loopback with SPEECHQA_INDEX naming a `milvus-lite server` that this
module starts, holding the seed collection copied with its vectors."""

from __future__ import annotations

import pytest

pytest.importorskip("pymilvus")

from conftest import Server, copy_of  # noqa: E402
from test_api import (  # noqa: E402, F401
    api,
    doc_text,
    seed_ids,
    test_a_pasted_paragraph_of_1500_characters_is_a_query,
    test_date_filters_use_the_speech_date,
    test_doc_filter_restricts_to_the_given_documents,
    test_document_detail_has_text_and_passage_offsets,
    test_documents_list_and_pages,
    test_every_mode_answers,
    test_healthz_reports_the_collection,
    test_pages_render_results_documents_and_similar,
    test_post_search_answers_like_get,
    test_search_finds_the_answer_with_an_exact_citation,
    test_search_rejects_bad_input,
    test_similar_to_a_stored_passage_leaves_out_its_own_speech,
    test_similar_to_pasted_text_with_exclude_doc,
    test_unknown_things_are_404_json,
    test_upload_search_and_delete,
)
from test_milvus import LiteServer  # noqa: E402
from test_milvus_service import _milvus_copy  # noqa: E402


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


def test_the_server_answers_from_milvus(api):
    assert api.get("/healthz").json()["index"] == "milvus:HNSW"
