"""Store + derived indexes: changes that touch only their passages, the change log, catch-up and
rebuild after a crash, migration from format 1, one consistent view per request, model checks."""

import json
import sqlite3

import numpy as np
import pytest

import qa.index.faiss_index as faiss_index
import qa.index.lexical as lexical_module
import qa.index.vector_index as vector_index
from qa.errors import IndexNotBuiltError, ModelMismatchError
from qa.index.collection import Collection
from qa.index.lexical import LexicalIndex
from qa.index.store_passages import StoredPassage
from qa.index.vector_index import VectorPassageIndex
from qa.types import Document, Metadata, Passage, PassageFilter

DIM = 8
WORDS = "招商 引资 工业 发展 项目 建设 园区 农业 粮食 安全 改革 创新 民生 就业 教育".split()


def make_document(n: int, date: str, speaker: str | None = None, words: int = 5) -> tuple[Document, list[StoredPassage], bytes | None]:
    doc_id = f"d-{n:016x}"
    texts = [f"第{n}篇第{i}段,招商引资与工业发展。" for i in range(3)]
    document = Document(doc_id, "\n".join(texts), f"hash{n}", Metadata(title=f"讲话{n}", date=date, speaker=speaker),
                        "zh-Hans", (f"file{n}.txt",))
    rng = np.random.default_rng(n)
    passages, start = [], 0
    for i, text in enumerate(texts):
        tokens = " ".join([*rng.choice(WORDS, size=words + i), f"篇{n}"])
        passages.append(StoredPassage(Passage(f"c-{n}-{i}", doc_id, i, text, start, start + len(text)), f"e{n}-{i}", tokens))
        start += len(text) + 1
    return document, passages, None


def vectors_for(items) -> dict[str, np.ndarray]:
    out = {}
    for _, passages, _ in items:
        for stored in passages:
            v = np.random.default_rng(abs(hash(stored.embed_hash)) % 2**32).standard_normal(DIM).astype(np.float32)
            out[stored.embed_hash] = v / np.linalg.norm(v)
    return out


def add(collection: Collection, *items):
    return collection.add_documents(list(items), vectors_for(items))


def query_vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def test_missing_collection_says_how_to_build_it(tmp_path):
    with pytest.raises(IndexNotBuiltError, match="speechqa ingest"):
        Collection.open(tmp_path / "nothing", "m")


def test_changes_reach_the_indexes_and_survive_reopen(tmp_path):
    collection = Collection.open(tmp_path, "m", create=True)
    change = add(collection, make_document(1, "2022-01-01", "张三"), make_document(2, "2023-05-11"))
    assert change.added.tolist() == [1, 2, 3, 4, 5, 6] and collection.is_current()
    assert collection.vectors.count() == 6 and collection.lexical.count() == 6
    collection.close()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["format_version"] == 2 and manifest["model"] == "m" and manifest["dim"] == DIM
    assert manifest["passages"] == 6 and manifest["store_version"] == 1 and manifest["index"] == "flat"

    again = Collection.open(tmp_path, "m")
    again.load_indexes()
    assert again.vectors.count() == 6 and again.is_current()
    with again.snapshot() as view:
        assert len(view.store.filtered_pids(PassageFilter(date_from="2023-01-01"))) == 3
        pids, _ = view.lexical.search(["篇1"], 10, PassageFilter(speaker="张三"))
        assert pids.tolist() == [1, 2, 3]
        pids, _ = view.vectors.search(query_vector(0), 10, exclude_doc="d-0000000000000001")
        assert sorted(pids.tolist()) == [4, 5, 6]


def test_an_index_behind_the_store_catches_up_from_the_log_without_a_rebuild(tmp_path):
    collection = Collection.open(tmp_path, "m", create=True)
    add(collection, make_document(1, "2022-01-01"), make_document(2, "2022-01-02"))
    collection.rebuild_indexes()  # a main index to keep
    collection.close()
    saved = json.loads((tmp_path / "manifest.json").read_text())["vectors"]["main"]
    # Writes the indexes never saw (a process killed after its commits, before saving):
    store_only = Collection.open(tmp_path, "m").store
    third = [make_document(3, "2022-02-02")]
    store_only.add_documents(third, vectors_for(third), "m")
    store_only.remove_document("d-0000000000000001")
    store_only.close()

    reopened = Collection.open(tmp_path, "m")
    reopened.load_indexes()
    assert reopened.is_current() and reopened.vectors.count() == 6 and reopened.lexical.count() == 6
    with reopened.snapshot() as view:
        assert sorted(view.vectors.search(query_vector(1), 20)[0].tolist()) == [4, 5, 6, 7, 8, 9]
        assert view.lexical.search(["篇1"], 5)[0].tolist() == []
        assert view.lexical.search(["篇3"], 5)[0].tolist() == [7, 8, 9]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["vectors"]["main"] == saved  # caught up from the log: the main index was not rebuilt
    assert manifest["store_version"] == reopened.store.version


def test_a_log_that_no_longer_reaches_back_means_a_rebuild(tmp_path):
    collection = Collection.open(tmp_path, "m", create=True)
    add(collection, make_document(1, "2022-01-01"))
    collection.close()
    store_only = Collection.open(tmp_path, "m").store
    second = [make_document(2, "2022-02-02")]
    store_only.add_documents(second, vectors_for(second), "m")
    store_only.forget_changes(store_only.version)
    store_only.close()
    reopened = Collection.open(tmp_path, "m")
    reopened.load_indexes()
    assert reopened.is_current() and reopened.vectors.count() == 6


@pytest.mark.parametrize("damage", ["dim-zero", "missing-file", "garbage-manifest"])
def test_damaged_or_stale_index_files_are_rebuilt_from_the_store(tmp_path, damage):
    """Issue 11: a manifest written for an empty store ("dim": 0), then documents committed, must still open."""
    collection = Collection.open(tmp_path, "m", create=True)
    collection.load_indexes()  # an empty collection: nothing to say about dimensions yet
    collection.close()
    assert json.loads((tmp_path / "manifest.json").read_text())["dim"] is None
    if damage == "dim-zero":
        manifest = json.loads((tmp_path / "manifest.json").read_text())
        manifest["dim"] = manifest["vectors"]["dim"] = 0
        (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    store_only = Collection.open(tmp_path, "m").store
    items = [make_document(1, "2022-01-01")]
    store_only.add_documents(items, vectors_for(items), "m")
    store_only.close()
    if damage == "missing-file":
        for path in tmp_path.glob("vectors-tail-*.npz"):
            path.unlink()
    if damage == "garbage-manifest":
        (tmp_path / "manifest.json").write_text("{not json")
    reopened = Collection.open(tmp_path, "m")
    reopened.load_indexes()
    with reopened.snapshot() as view:
        assert view.vectors.search(query_vector(2), 3)[0].size == 3
    assert json.loads((tmp_path / "manifest.json").read_text())["dim"] == DIM


def test_other_model_is_a_clear_error(tmp_path):
    collection = Collection.open(tmp_path, "model-a", create=True)
    collection.model = "model-a"
    add(collection, make_document(1, "2022-01-01"))
    collection.close()
    with pytest.raises(ModelMismatchError, match="speechqa reindex"):
        Collection.open(tmp_path, "model-b")


def test_removing_a_document_removes_only_its_passages_and_sources(tmp_path):
    collection = Collection.open(tmp_path, "m", create=True)
    add(collection, make_document(1, "2022-01-01"), make_document(2, "2022-01-02"))
    assert collection.remove_document("d-0000000000000001")
    assert not collection.remove_document("d-0000000000000001")
    assert collection.store.count_passages() == 3 and collection.vectors.count() == 3 and collection.lexical.count() == 3
    assert collection.store._db.execute("SELECT source FROM sources").fetchall() == [("file2.txt",)]
    assert collection.store.changes_since(0).added.tolist() == [4, 5, 6]


def test_pids_are_never_reused(tmp_path):
    collection = Collection.open(tmp_path, "m", create=True)
    add(collection, make_document(1, "2022-01-01"))
    collection.remove_document("d-0000000000000001")
    assert add(collection, make_document(2, "2022-01-01")).added.tolist() == [4, 5, 6]


def _fresh_results(collection: Collection, queries) -> list:
    """What an index built from scratch from the store answers."""
    with collection.store.snapshot() as view:
        fresh_lexical = LexicalIndex.build(*view.passage_tokens(), view.version).reader(view)
        fresh_vectors = VectorPassageIndex.build(np.empty(0, np.int64), [], view.version,
                                                 blocks=view.passage_vectors("m"), n_vectors=view.count_passages()).reader(view)
        return [(fresh_lexical.search(tokens, 50), fresh_vectors.search(vector, 50)) for tokens, vector in queries]


def test_after_many_adds_removes_and_merges_results_equal_a_fresh_build(tmp_path, monkeypatch):
    monkeypatch.setattr(lexical_module, "RECENT_MIN", 12)
    monkeypatch.setattr(lexical_module, "MAX_RECENT_SEGMENTS", 3)
    monkeypatch.setattr(vector_index, "MERGE_MIN", 12)
    collection = Collection.open(tmp_path, "m", create=True)
    rng = np.random.default_rng(7)
    present: list[int] = []
    for n in range(1, 61):
        add(collection, make_document(n, f"2022-01-{n % 28 + 1:02d}", words=int(rng.integers(2, 9))))
        present.append(n)
        if n % 3 == 0:
            gone = present.pop(int(rng.integers(len(present))))
            assert collection.remove_document(f"d-{gone:016x}")
        if n % 20 == 0:
            collection.wait_for_maintenance()  # merges ran in the background while changes went on
    collection.wait_for_maintenance()
    assert collection.lexical.segment_count < 8
    queries = [(list(rng.choice(WORDS, size=3)) + ["篇5"], query_vector(seed)) for seed in range(8)]
    fresh = _fresh_results(collection, queries)
    with collection.snapshot() as view:
        for (tokens, vector), (lexical_hits, vector_hits) in zip(queries, fresh, strict=True):
            pids, scores = view.lexical.search(tokens, 50)
            assert pids.tolist() == lexical_hits[0].tolist()
            np.testing.assert_allclose(scores, lexical_hits[1], atol=1e-5)
            np.testing.assert_allclose(view.lexical.score(tokens, pids), scores, atol=1e-5)
            pids, scores = view.vectors.search(vector, 50)
            assert pids.tolist() == vector_hits[0].tolist()
            np.testing.assert_allclose(scores, vector_hits[1], atol=1e-5)
    collection.close()
    reopened = Collection.open(tmp_path, "m")
    reopened.load_indexes()
    with reopened.snapshot() as view:
        tokens, vector = queries[0]
        assert view.lexical.search(tokens, 50)[0].tolist() == fresh[0][0][0].tolist()
        assert view.vectors.search(vector, 50)[0].tolist() == fresh[0][1][0].tolist()


def test_a_view_keeps_its_version_while_a_document_is_removed(tmp_path):
    collection = Collection.open(tmp_path, "m", create=True)
    add(collection, make_document(1, "2022-01-01"), make_document(2, "2022-01-02"))
    with collection.snapshot() as view:
        assert collection.remove_document("d-0000000000000001")
        add(collection, make_document(3, "2022-01-03"))
        assert view.version == 1
        assert sorted(view.vectors.search(query_vector(3), 20)[0].tolist()) == [1, 2, 3, 4, 5, 6]
        assert view.lexical.search(["篇1"], 5)[0].tolist() == [1, 2, 3]
        assert sorted(view.passages([1, 2, 3, 7])) == [1, 2, 3]
        assert list(view.documents(["d-0000000000000001"])) == ["d-0000000000000001"]
        assert view.vectors.count() == 6 and view.lexical.knows("篇1") and not view.lexical.knows("篇3")
    with collection.snapshot() as after:
        assert after.version == 3
        assert sorted(after.vectors.search(query_vector(3), 20)[0].tolist()) == [4, 5, 6, 7, 8, 9]
        assert after.lexical.search(["篇1"], 5)[0].tolist() == [] and not after.lexical.knows("篇1")
        assert after.documents(["d-0000000000000001"]) == {}


def test_a_request_during_a_rebuild_reads_the_indexes_being_replaced(tmp_path, monkeypatch):
    import threading

    collection = Collection.open(tmp_path, "m", create=True)
    add(collection, make_document(1, "2022-01-01"), make_document(2, "2022-01-02"))
    building, answered = threading.Event(), threading.Event()
    build = collection._build_vectors

    def build_slowly(view):
        building.set()
        answered.wait(10)
        return build(view)

    monkeypatch.setattr(collection, "_build_vectors", build_slowly)
    rebuild = threading.Thread(target=collection.rebuild_indexes)
    rebuild.start()
    assert building.wait(10)
    counts: list[int] = []

    def request() -> None:
        with collection.snapshot() as view:
            counts.append(view.vectors.count())

    reader = threading.Thread(target=request)
    reader.start()
    reader.join(10)
    while_building = list(counts)  # answered without waiting for the rebuild, from the old indexes
    answered.set()
    rebuild.join()
    reader.join()
    assert while_building == [6] and collection.is_current() and collection.vectors.count() == 6


def test_a_change_by_another_process_is_seen_by_the_next_view(tmp_path):
    collection = Collection.open(tmp_path, "m", create=True)
    add(collection, make_document(1, "2022-01-01"))
    other = Collection.open(tmp_path, "m")  # e.g. `speechqa ingest` beside a running server
    add(other, make_document(2, "2022-01-02"))
    other.close()
    with collection.snapshot() as view:
        assert view.version == 2 and view.lexical.search(["篇2"], 5)[0].tolist() == [4, 5, 6]


def test_when_another_process_saved_and_pruned_the_log_the_saved_indexes_are_loaded_not_rebuilt(tmp_path, monkeypatch):
    collection = Collection.open(tmp_path, "m", create=True)
    add(collection, make_document(1, "2022-01-01"))
    collection.save()
    other = Collection.open(tmp_path, "m")
    add(other, make_document(2, "2022-01-02"))
    other.close()  # saves at version 2 and forgets the log up to it
    assert collection.store.changes_since(1) is None

    def no_rebuild(*args):
        raise AssertionError("rebuilt from the store")

    monkeypatch.setattr(collection, "_build_vectors", no_rebuild)
    monkeypatch.setattr(LexicalIndex, "build", no_rebuild)
    with collection.snapshot() as view:
        assert view.version == 2 and view.lexical.search(["篇2"], 5)[0].tolist() == [4, 5, 6]
        assert view.vectors.count() == 6


def test_a_format_1_collection_is_migrated_on_open(tmp_path):
    """What the previous version wrote: whole-collection index files named by version, no change log."""
    collection = Collection.open(tmp_path, "m", create=True)
    add(collection, make_document(1, "2022-01-01"), make_document(2, "2022-01-02"))
    collection.close()
    with sqlite3.connect(tmp_path / "speechqa.sqlite") as db:
        db.execute("DROP TABLE changes")
        db.execute("DELETE FROM meta WHERE key IN ('next_pid', 'log_from')")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    for path in list(tmp_path.glob("vectors-*")) + [tmp_path / "lexical"]:
        if path.is_dir():
            import shutil

            shutil.rmtree(path)
        else:
            path.unlink()
    (tmp_path / "vectors-1.faiss").write_bytes(b"old faiss file")
    (tmp_path / "lexical-1").mkdir()
    (tmp_path / "lexical-1" / "pids.npy").write_bytes(b"old")
    (tmp_path / "manifest.json").write_text(json.dumps({
        "format_version": 1, "model": "m", "dim": DIM, "documents": 2, "passages": 6, "index": "flat",
        "recall_at_10": 1.0, "vector_file": "vectors-1.faiss", "lexical_dir": "lexical-1", "store_version": 1}))

    migrated = Collection.open(tmp_path, "m")
    migrated.load_indexes()
    assert migrated.is_current() and migrated.vectors.count() == 6
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["format_version"] == 2 and not (tmp_path / "vectors-1.faiss").exists() and not (tmp_path / "lexical-1").exists()
    assert add(migrated, make_document(3, "2022-01-03")).added.tolist() == [7, 8, 9]
    with migrated.snapshot() as view:
        assert view.lexical.search(["篇3"], 5)[0].tolist() == [7, 8, 9]


def test_an_approximate_index_reports_its_recall(tmp_path, monkeypatch):
    monkeypatch.setattr(faiss_index, "EXACT_SEARCH_MAX", 3)  # force HNSW on a small collection
    collection = Collection.open(tmp_path, "m", create=True)
    add(collection, *[make_document(n, "2022-01-01") for n in range(1, 5)])
    collection.rebuild_indexes()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["index"] == "hnsw" and manifest["recall_at_10"] == 1.0
    assert collection.stats()["index"] == "hnsw" and collection.stats()["recall_at_10"] == 1.0
    monkeypatch.setattr(vector_index, "RECALL_REMEASURE", 3)
    collection.remove_document("d-0000000000000001")
    assert collection.vectors.remeasure_due()
    collection.stats()  # asking for it measures it again, in the background
    collection.wait_for_maintenance()
    assert not collection.vectors.remeasure_due() and collection.stats()["recall_at_10"] == 1.0


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
    assert store.remove_document("d-0000000000000001") is not None
    assert store.count_passages() == 3
    collection.close()
