"""Changes while searching (issue 11 item 3, issue 12): uploads and deletions under concurrent searches,
and a collection that went through changes answering exactly as one built from scratch (with the n-gram
encoder: what is tested is the collection, not the model)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from qa.index.collection import Collection
from qa.ingest.pipeline import embed_sentences
from qa.search.requests import SearchRequest, SimilarRequest
from qa.search.service import SearchService
from qa.types import RawDocument

PROBE = ("关于推进产业园区提质增效的讲话\n"
         + "".join(f"第{i}项工作是加快园区道路管网等基础设施建设,提升承载能力,吸引更多优质项目落户。" for i in range(12)))
PROBE_QUERY = "加快园区道路管网等基础设施建设,提升承载能力"
QUERIES = ["招商引资进度为什么落后", "工业经济运行情况", "项目建设", "how is industrial development going"]


@pytest.fixture(scope="module")
def changing_service(fake_seed_collection_dir, fake_encoder, tmp_path_factory):
    from tests.conftest import copy_of

    collection = Collection.open(copy_of(fake_seed_collection_dir, tmp_path_factory, "changes"), fake_encoder.name)
    yield SearchService(collection, fake_encoder)
    collection.close()


def _snapshot_results(service: SearchService, query: str) -> tuple:
    """What each index answers (pids, scores) and the fused hits (chunk ids, scores), top 100."""
    vector = service.embed_query(query)
    with service.collection.snapshot() as view:
        tokens = service.lexical_query(query, view.lexical)
        lexical = view.lexical.search(tokens, 100)
        dense = view.vectors.search(vector, 100)
    hits = service.search(SearchRequest(query=query, k=20)).hits
    return lexical, dense, [(hit.passage.chunk_id, hit.score) for hit in hits]


def test_searches_during_uploads_and_deletions_never_fail_and_a_deletion_is_final(changing_service, fake_seed_service):
    errors: list[BaseException] = []
    seen_probe = []
    stop = threading.Event()

    def search() -> None:
        while not stop.is_set():
            try:
                for hit in changing_service.search(SearchRequest(query=PROBE_QUERY, k=100)).hits:
                    seen_probe.append(hit.document.doc_id)
                changing_service.similar(SimilarRequest(text=PROBE_QUERY, k=100))
                changing_service.search(SearchRequest(query="园区", k=100, mode="lexical", date_from="2000-01-01"))
            except BaseException as exc:  # noqa: BLE001 - every failure is the test's finding
                errors.append(exc)

    searchers = [threading.Thread(target=search) for _ in range(4)]
    for thread in searchers:
        thread.start()
    probe_ids = set()
    try:
        for cycle in range(6):
            report = changing_service.changes.add_documents([RawDocument(PROBE, f"probe-{cycle}.txt")])
            assert len(report.added) == 1, report
            doc_id = report.added[0]
            probe_ids.add(doc_id)
            # Searchable as soon as the upload returns ...
            first = changing_service.search(SearchRequest(query=PROBE_QUERY, k=3)).hits
            assert first[0].document.doc_id == doc_id
            changing_service.changes.remove_document(doc_id)
            # ... and gone from every search that starts after the deletion returns.
            after = changing_service.search(SearchRequest(query=PROBE_QUERY, k=100)).hits
            assert doc_id not in {hit.document.doc_id for hit in after}
    finally:
        stop.set()
        for thread in searchers:
            thread.join()
    assert errors == []
    assert set(seen_probe) & probe_ids  # the searchers did run while the probe was there

    # After the changes: the same answers, in the same order and with the same scores, as the
    # collection built from scratch (the seed collection these changes started from and returned to).
    for query in QUERIES:
        (lexical, dense, hits), (fresh_lexical, fresh_dense, fresh_hits) = (
            _snapshot_results(changing_service, query), _snapshot_results(fake_seed_service, query))
        assert lexical[0].tolist() == fresh_lexical[0].tolist()
        np.testing.assert_allclose(lexical[1], fresh_lexical[1], atol=1e-5)
        assert dense[0].tolist() == fresh_dense[0].tolist()
        np.testing.assert_allclose(dense[1], fresh_dense[1], atol=1e-5)
        assert [c for c, _ in hits] == [c for c, _ in fresh_hits]
        np.testing.assert_allclose([s for _, s in hits], [s for _, s in fresh_hits], atol=1e-4)


def test_an_upload_embeds_and_indexes_only_its_own_passages(changing_service, monkeypatch):
    embedded: list[int] = []
    real_embed = changing_service.encoder.embed

    def counting_embed(texts, *args, **kwargs):
        embedded.append(len(texts))
        return real_embed(texts, *args, **kwargs)

    monkeypatch.setattr(changing_service.encoder, "embed", counting_embed)
    collection = changing_service.collection
    before = collection.vectors.count(), collection.lexical.count()
    report = changing_service.changes.add_documents([RawDocument(PROBE.replace("园区", "开发区"), "probe-own.txt")])
    passages = collection.store.passages_of(report.added[0])
    n_passages = len(passages)
    title = collection.store.get_document(report.added[0]).metadata.title
    # Each of its sentences once, and its title (a title no other document has).
    assert sum(embedded) == sum(len(embed_sentences(p.text)) for p in passages) + (1 if title else 0)
    assert (collection.vectors.count(), collection.lexical.count()) == (before[0] + n_passages, before[1] + n_passages)
    assert collection.stats()["version"] == collection.store.version
    assert collection.lexical.reader().knows("开发区")  # a word no sample speech has
    changing_service.changes.remove_document(report.added[0])
    assert (collection.vectors.count(), collection.lexical.count()) == before
    assert not collection.lexical.reader().knows("开发区")  # BM25 statistics forget it with its passages
    import os

    [writer] = [t for t in threading.enumerate() if t.name.startswith("speechqa-changes")]
    assert os.getpriority(os.PRIO_PROCESS, writer.native_id) > os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_a_change_service_without_the_model_removes_documents_and_refuses_to_add(seed_collection_copy, encoder):
    from qa.errors import NotFoundError
    from qa.search.changes import ChangeService

    collection = Collection.open(seed_collection_copy, encoder.name)
    changes = ChangeService(collection, None)
    service = SearchService(collection, encoder, changes=changes)
    assert service.changes is changes
    doc_id = service.search(SearchRequest(query=PROBE_QUERY, k=1)).hits[0].passage.doc_id
    changes.remove_document(doc_id)
    assert doc_id not in {h.passage.doc_id for h in service.search(SearchRequest(query=PROBE_QUERY, k=20)).hits}
    with pytest.raises(NotFoundError, match="nothing was removed"):
        changes.remove_document(doc_id)
    with pytest.raises(AssertionError, match="needs the model"):
        changes.add_documents([RawDocument(PROBE, "probe.txt")])
    collection.close()
