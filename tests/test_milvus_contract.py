"""The Milvus backend against a real Milvus 2.5+ server (standalone or a cluster): set MILVUS_URI,
e.g. `MILVUS_URI=milvus://127.0.0.1:19530 pytest tests/test_milvus_contract.py`; skipped otherwise.

It runs the same checks as tests/test_milvus.py (analyzer, pages, rankings, filters, rewrites,
removals) on a collection of its own, which it drops afterwards.
"""

from __future__ import annotations

import os
import uuid

import pytest

pytest.importorskip("pymilvus")
if not os.environ.get("MILVUS_URI"):
    pytest.skip("set MILVUS_URI=milvus://HOST:19530 to run the contract tests against a real Milvus", allow_module_level=True)

import test_milvus  # noqa: E402
from test_milvus import (  # noqa: E402, F401
    test_documents_and_pages_are_rebuilt_from_passages,
    test_filters_are_milvus_expressions_allowing_what_the_store_allows,
    test_lexical_and_dense_rankings_match_the_embedded_indexes,
    test_rewriting_a_document_adds_no_passage_and_removing_one_takes_all_of_it,
)

from qa.index.milvus_backend import copy_from_store  # noqa: E402
from qa.index.milvus_passages import MilvusPassages  # noqa: E402


@pytest.fixture(scope="module")
def milvus(seed_store):
    name = "speechqa_contract_" + uuid.uuid4().hex[:8]
    passages = MilvusPassages.open(os.environ["MILVUS_URI"].rstrip("/") + "/" + name, test_milvus.MODEL, 384, create=True)
    copy_from_store(seed_store, test_milvus.MODEL, passages)
    yield passages
    passages.client.drop_collection(name)
    if passages.client.has_collection(passages.titles_name):
        passages.client.drop_collection(passages.titles_name)
    passages.close()


seed_store = test_milvus.seed_store
