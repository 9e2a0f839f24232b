"""The same searches, documents, changes and API over the embedded backend and over Milvus Lite
(embedded and a loopback `milvus-lite server`): rankings compared by chunk id, never by raw score.
Milvus holds one vector a passage and no sentence vectors, so the embedded side is scored the same way.
The collections are built with the n-gram encoder: what is tested is the backend, not the model."""

from __future__ import annotations

import httpx
import pytest

pytest.importorskip("pymilvus")

from conftest import Server, copy_of  # noqa: E402
from test_milvus import LiteServer  # noqa: E402

from qa.index.collection import read_manifest  # noqa: E402
from qa.index.milvus_backend import MilvusCollection, copy_from_store  # noqa: E402
from qa.index.milvus_passages import MilvusPassages  # noqa: E402
from qa.index.store import PassageStore  # noqa: E402
from qa.search.requests import SearchRequest, SimilarRequest  # noqa: E402
from qa.search.service import SearchService  # noqa: E402
from qa.types import RawDocument  # noqa: E402

QUESTIONS = ["招商引资进度为什么落后", "縣經商局要協調調度哪些生產要素", "What should companies do about saving energy?",
             "深入开展平安创建活动", "工业强县战略"]
NEW_SPEECH = ("在全县秸秆综合利用工作推进会上的讲话\n\n同志们：今天召开全县秸秆综合利用工作推进会，主要任务是部署秸秆禁烧和综合利用工作。"
              "各乡镇要落实属地责任，建立秸秆收储运体系，推广秸秆还田、秸秆饲料化和秸秆能源化利用，确保今年秸秆综合利用率达到百分之九十以上。")


@pytest.fixture(scope="module")
def lite_server(tmp_path_factory):
    server = LiteServer(tmp_path_factory.mktemp("service-milvus") / "data")
    yield server
    server.stop()


def _milvus_copy(seed_collection_dir, index: str) -> MilvusCollection:
    """A collection's documents and stored vectors, under the model it records, copied into Milvus at index."""
    model = read_manifest(seed_collection_dir)["model"]
    passages = MilvusPassages.open(index, model, 384, create=True)
    store = PassageStore(seed_collection_dir / "speechqa.sqlite")
    copy_from_store(store, model, passages)
    store.close()
    return MilvusCollection(passages)


@pytest.fixture(scope="module", params=["lite", "server"])
def milvus_service(request, fake_seed_collection_dir, fake_encoder, tmp_path_factory):
    if request.param == "lite":
        index = str(tmp_path_factory.mktemp("service-lite") / "seeds.db")
    else:
        index = request.getfixturevalue("lite_server").index + "/service_seeds"
    collection = _milvus_copy(fake_seed_collection_dir, index)
    yield SearchService(collection, fake_encoder)
    collection.close()


def _same_ranking(ours, theirs, tolerance: float = 2e-3) -> bool:
    """Whether two hit lists rank alike: the embedded side's hits are grouped where their scores lie within
    `tolerance` (its exact index holds half-precision vectors, Milvus float32 ones, so near-ties may swap),
    and our hits, cut into groups of the same sizes, must hold the same passages; the last group may be
    cut by k differently on each side."""
    groups: list[set[str]] = []
    last = None
    for hit in theirs:
        if groups and last - hit.score <= tolerance:
            groups[-1].add(hit.passage.chunk_id)
        else:
            groups.append({hit.passage.chunk_id})
        last = hit.score
    ids = [hit.passage.chunk_id for hit in ours]
    start = 0
    for group in groups[:-1]:
        if set(ids[start:start + len(group)]) != group:
            return False
        start += len(group)
    return True


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_searches_rank_as_the_embedded_backend_does(milvus_service, fake_seed_service_by_passage, mode):
    for question in QUESTIONS:
        request = SearchRequest(query=question, k=8, mode=mode)
        ours, theirs = milvus_service.search(request).hits, fake_seed_service_by_passage.search(request).hits
        assert ours, question
        assert _same_ranking(ours, theirs), (mode, question, [h.passage.chunk_id for h in ours],
                                             [(h.passage.chunk_id, h.score) for h in theirs])
        filtered = SearchRequest(query=question, k=5, mode=mode, date_from="2022-06-01", date_to="2023-12-31")
        assert [h.passage.chunk_id for h in milvus_service.search(filtered).hits][:3] == \
            [h.passage.chunk_id for h in fake_seed_service_by_passage.search(filtered).hits][:3]


def test_similar_passages_documents_and_stats(milvus_service, fake_seed_service_by_passage):
    source = fake_seed_service_by_passage.search(SearchRequest(query=QUESTIONS[0], k=1)).hits[0].passage
    ours = milvus_service.similar(SimilarRequest(chunk_id=source.chunk_id, k=5))
    theirs = fake_seed_service_by_passage.similar(SimilarRequest(chunk_id=source.chunk_id, k=5))
    assert [h.passage.chunk_id for h in ours.hits][:3] == [h.passage.chunk_id for h in theirs.hits][:3]
    assert all(h.passage.doc_id != source.doc_id for h in ours.hits)
    listed, total = milvus_service.documents(0, 50)
    assert (listed, total) == fake_seed_service_by_passage.documents(0, 50)
    for document, _ in listed:
        assert milvus_service.document(document.doc_id) == fake_seed_service_by_passage.document(document.doc_id)
    assert milvus_service.stats()["index"] == "milvus:HNSW"
    assert milvus_service.stats()["chunks"] == fake_seed_service_by_passage.stats()["chunks"]


def test_an_upload_is_found_and_a_deletion_is_final(milvus_service):
    report = milvus_service.changes.add_documents([RawDocument(NEW_SPEECH, "straw.txt")])
    assert len(report.added) == 1
    doc_id = report.added[0]
    hits = milvus_service.search(SearchRequest(query="秸秆综合利用率要达到多少", k=3)).hits
    assert hits[0].passage.doc_id == doc_id
    document = milvus_service.document(doc_id)[0]
    assert document.text.startswith("在全县秸秆综合利用工作推进会上的讲话")
    assert document.metadata.title and milvus_service.collection.titles_without_vectors([document.metadata.title]) == []
    again = milvus_service.changes.add_documents([RawDocument(NEW_SPEECH, "straw.txt")])
    assert again.duplicates == ["straw.txt"] and not again.added
    milvus_service.changes.remove_document(doc_id)
    assert all(h.passage.doc_id != doc_id for h in milvus_service.search(SearchRequest(query="秸秆综合利用率要达到多少", k=10)).hits)
    assert milvus_service.documents(0, 50)[1] == 5


@pytest.fixture(scope="module")
def milvus_server(fake_seed_collection_dir, model_cache_dir, tmp_path_factory, lite_server):
    """A real speechqa server on loopback whose collection is in a milvus-lite server (SPEECHQA_INDEX)."""
    index = lite_server.index + "/api_seeds"
    _milvus_copy(fake_seed_collection_dir, index).close()
    running = Server(copy_of(fake_seed_collection_dir, tmp_path_factory, "milvus-api"), model_cache_dir, fake=True,
                     index=index)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def by_passage_api(settings_factory, fake_seed_service_by_passage, tmp_path_factory):
    """The API over the embedded backend scoring as Milvus does (by passage vectors alone), in this process."""
    from fastapi.testclient import TestClient

    from web.app import create_app

    app = create_app(settings_factory(tmp_path_factory.mktemp("by-passage-api")), service=fake_seed_service_by_passage)
    return TestClient(app, base_url="http://127.0.0.1")


def test_the_api_answers_alike_over_milvus(milvus_server, by_passage_api):
    health = httpx.get(milvus_server.url + "/healthz").json()
    assert health["index"] == "milvus:HNSW" and health["chunks"] == by_passage_api.get("/healthz").json()["chunks"]
    for question in QUESTIONS[:3]:
        ours = httpx.get(milvus_server.url + "/api/search", params={"q": question, "k": 5}, timeout=60).json()
        theirs = by_passage_api.get("/api/search", params={"q": question, "k": 5}).json()
        assert [r["chunk_id"] for r in ours["results"]][:3] == [r["chunk_id"] for r in theirs["results"]][:3]
        assert ours["results"][0]["citation"] == theirs["results"][0]["citation"]
    doc_id = ours["results"][0]["doc_id"]
    ours = httpx.get(f"{milvus_server.url}/api/documents/{doc_id}").json()
    assert ours == by_passage_api.get(f"/api/documents/{doc_id}").json()
    page = httpx.get(f"{milvus_server.url}/doc/{doc_id}")
    assert page.status_code == 200 and ours["title"] in page.text
    missing = httpx.get(f"{milvus_server.url}/api/documents/d-0000000000000000")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
