"""Store + derived indexes: versions, atomic swaps, rebuild after a crash, model checks."""

import json

import numpy as np
import pytest

from qa.collection import Collection
from qa.errors import IndexNotBuiltError, ModelMismatchError
from qa.store import PassageFilter, StoredPassage
from qa.types import Document, Metadata, Passage

DIM = 8


def make_document(n: int, date: str, speaker: str | None = None) -> tuple[Document, list[StoredPassage], bytes | None]:
    doc_id = f"d-{n:016x}"
    texts = [f"第{n}篇第{i}段,招商引资与工业发展。" for i in range(3)]
    document = Document(doc_id, "\n".join(texts), f"hash{n}", Metadata(title=f"讲话{n}", date=date, speaker=speaker),
                        "zh-Hans", (f"file{n}.txt",))
    passages, start = [], 0
    for i, text in enumerate(texts):
        passages.append(StoredPassage(Passage(f"c-{n}-{i}", doc_id, i, text, start, start + len(text)), f"e{n}-{i}",
                                      "招商 引资 工业 发展 " + f"篇{n}"))
        start += len(text) + 1
    return document, passages, None


def vectors_for(items) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(len(items))
    out = {}
    for _, passages, _ in items:
        for stored in passages:
            v = rng.standard_normal(DIM).astype(np.float32)
            out[stored.embed_hash] = v / np.linalg.norm(v)
    return out


def test_missing_collection_says_how_to_build_it(tmp_path):
    with pytest.raises(IndexNotBuiltError, match="speechqa ingest"):
        Collection.open(tmp_path / "nothing", "m")


def test_indexes_follow_the_store_and_survive_reopen(tmp_path):
    collection = Collection.open(tmp_path, "m", create=True)
    items = [make_document(1, "2022-01-01", "张三"), make_document(2, "2023-05-11")]
    collection.store.add_documents(items, vectors_for(items), "m")
    assert not collection.is_current()
    collection.rebuild_indexes(DIM)
    assert collection.is_current() and len(collection.vectors) == 6 and len(collection.lexical) == 6
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["model"] == "m" and manifest["dim"] == DIM and manifest["passages"] == 6
    collection.close()

    again = Collection.open(tmp_path, "m")
    again.load_indexes()
    assert len(again.vectors) == 6
    where = PassageFilter(date_from="2023-01-01")
    assert len(again.store.filtered_pids(where)) == 3
    assert len(again.store.filtered_pids(PassageFilter(speaker="张三"))) == 3


def test_store_ahead_of_manifest_is_rebuilt_on_load(tmp_path):
    collection = Collection.open(tmp_path, "m", create=True)
    first = [make_document(1, "2022-01-01")]
    collection.store.add_documents(first, vectors_for(first), "m")
    collection.rebuild_indexes(DIM)
    # A crash after the store committed but before the indexes were swapped in:
    second = [make_document(2, "2022-02-02")]
    collection.store.add_documents(second, vectors_for(second), "m")
    collection.close()
    reopened = Collection.open(tmp_path, "m")
    reopened.load_indexes()
    assert len(reopened.vectors) == 6 and reopened.is_current()
    assert sorted(p.name for p in tmp_path.glob("vectors-*.faiss")) == [f"vectors-{reopened.store.version}.faiss"]


def test_other_model_is_a_clear_error(tmp_path):
    collection = Collection.open(tmp_path, "model-a", create=True)
    items = [make_document(1, "2022-01-01")]
    collection.store.add_documents(items, vectors_for(items), "model-a")
    collection.rebuild_indexes(DIM)
    collection.close()
    with pytest.raises(ModelMismatchError, match="speechqa reindex"):
        Collection.open(tmp_path, "model-b")


def test_removing_a_document_removes_its_passages_and_sources(tmp_path):
    collection = Collection.open(tmp_path, "m", create=True)
    items = [make_document(1, "2022-01-01"), make_document(2, "2022-01-02")]
    collection.store.add_documents(items, vectors_for(items), "m")
    assert collection.store.remove_document(items[0][0].doc_id)
    assert not collection.store.remove_document(items[0][0].doc_id)
    collection.rebuild_indexes(DIM)
    assert collection.store.count_passages() == 3 and len(collection.vectors) == 3
    assert collection.store.has_source("file1.txt") is None


def test_an_approximate_index_reports_its_recall(tmp_path, monkeypatch):
    import embeddings.vector_index as vector_index

    monkeypatch.setattr(vector_index, "EXACT_SEARCH_MAX", 3)  # force HNSW on a small collection
    collection = Collection.open(tmp_path, "m", create=True)
    items = [make_document(n, "2022-01-01") for n in range(1, 5)]
    collection.store.add_documents(items, vectors_for(items), "m")
    collection.rebuild_indexes(DIM)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["index"] == "hnsw" and manifest["recall_at_10"] == 1.0


def test_reads_from_other_threads_see_each_committed_change(tmp_path):
    import threading

    collection = Collection.open(tmp_path, "m", create=True)
    store = collection.store
    first = [make_document(1, "2022-01-01")]
    store.add_documents(first, vectors_for(first), "m")
    seen: list[int] = []
    reader = threading.Thread(target=lambda: seen.append(store.count_passages()))
    reader.start()
    reader.join()
    second = [make_document(2, "2022-02-02")]
    store.add_documents(second, vectors_for(second), "m")
    counts: list[tuple[int, int]] = []

    def read() -> None:
        pids = store.filtered_pids(PassageFilter(doc_ids=("d-0000000000000002",)))
        counts.append((store.count_passages(), len(store.passages_by_pid(pids.tolist()))))

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [3] and counts == [(6, 3)] * 4
    assert store.remove_document("d-0000000000000001")
    assert store.count_passages() == 3
    collection.close()
