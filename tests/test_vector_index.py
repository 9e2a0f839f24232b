import numpy as np
import pytest

from qa.index.faiss_index import VectorIndex, choose_kind


def unit_vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_search_returns_stable_ids_not_rows(kind):
    vectors = unit_vectors(500)
    index = VectorIndex(32, kind)
    index.add(np.arange(500) + 1000, vectors)
    scores, ids = index.search(vectors[[3, 7]], 1)
    assert ids[:, 0].tolist() == [1003, 1007]
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-3)  # the exact index keeps half-precision vectors


def test_half_precision_exact_search_ranks_as_float32():
    vectors, queries = unit_vectors(3000, 64, seed=1), unit_vectors(50, 64, seed=2)
    index = VectorIndex(64, "flat")
    index.add(np.arange(3000), vectors)
    scores, ids = index.search(queries, 10)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids.tolist(), exact.tolist(), strict=True)])
    assert overlap >= 0.99
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ vectors.T, ids, axis=1), atol=2e-3)
    np.testing.assert_allclose(index.vectors_of(np.arange(5)), vectors[:5], atol=1e-3)


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_filter_keeps_only_allowed_ids_and_pads_with_minus_one(kind):
    vectors = unit_vectors(300)
    index = VectorIndex(32, kind)
    index.add(np.arange(300), vectors)
    _, ids = index.search(vectors[5], 4, allowed_ids=np.array([5, 9]))
    assert ids[0, 0] == 5
    assert set(ids[0].tolist()) == {5, 9, -1}


def test_save_load_round_trip(tmp_path):
    vectors = unit_vectors(200)
    index = VectorIndex(32, "flat")
    index.add(np.arange(200), vectors)
    index.save(tmp_path / "v.faiss")
    loaded = VectorIndex.load(tmp_path / "v.faiss")
    assert (loaded.kind, len(loaded), loaded.dim) == ("flat", 200, 32)
    assert loaded.search(vectors[:5], 3)[1].tolist() == index.search(vectors[:5], 3)[1].tolist()
    assert not list(tmp_path.glob("*.tmp"))


def test_remove_from_flat_index():
    vectors = unit_vectors(50)
    index = VectorIndex(32, "flat")
    index.add(np.arange(50), vectors)
    index.remove(np.array([10]))
    assert len(index) == 49
    assert index.search(vectors[10], 1)[1][0, 0] != 10


def test_kind_follows_collection_size():
    assert choose_kind(1_000) == "flat"
    assert choose_kind(1_000_000) == "hnsw"


# -- the collection's vector index: main + delta + tombstones --------------------------------------
import qa.index.faiss_index as faiss_index  # noqa: E402
import qa.index.vector_index as vector_index  # noqa: E402
from qa.index.vector_index import VectorPassageIndex  # noqa: E402


def exact_top(vectors: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    order = np.argsort(-(vectors @ query), kind="stable")[:k]
    return ids[order].tolist()


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_adds_and_removes_answer_like_a_fresh_index_and_readers_keep_their_version(kind, monkeypatch):
    monkeypatch.setattr(vector_index, "MERGE_MIN", 10**9)  # no merge: searches go through delta and tombstones
    vectors = unit_vectors(1500)
    ids = np.arange(1500, dtype=np.int64) * 2 + 1
    index = VectorPassageIndex.build(ids[:1000], vectors[:1000], 1, kind=kind)
    before = index.reader()
    for start in range(1000, 1500, 100):
        index.add(ids[start : start + 100], vectors[start : start + 100], 2)
    gone = np.array([3, 1001, 1499])
    index.remove(ids[gone], 3)
    keep = np.setdiff1d(np.arange(1500), gone)
    reader = index.reader()
    assert reader.count() == 1497 and reader.version == 3 and before.count() == 1000
    for q in range(5):
        pids, scores = reader.search(vectors[1000 + q * 50], 10)
        assert pids[0] == ids[1000 + q * 50] and pids.dtype == np.int64 and scores.dtype == np.float32
        expected = exact_top(vectors[keep], ids[keep], vectors[1000 + q * 50], 10)
        assert len(set(pids.tolist()) & set(expected)) >= 9
        assert not set(pids.tolist()) & set(ids[gone].tolist())
    assert reader.score(vectors[7], np.array([ids[7], ids[3], 999_999])).round(3).tolist()[1:] == [0.0, 0.0]
    assert before.search(vectors[3], 1)[0].tolist() == [ids[3]]  # still there for the older reader


def test_a_merge_carries_over_changes_made_while_it_ran(monkeypatch, tmp_path):
    monkeypatch.setattr(vector_index, "MERGE_MIN", 50)
    vectors = unit_vectors(400, seed=4)
    ids = np.arange(400, dtype=np.int64)
    index = VectorPassageIndex.build(ids[:200], vectors[:200], 1)
    index.add(ids[200:300], vectors[200:300], 2)
    assert index.needs_maintenance()
    real_clone = faiss_index.VectorIndex.clone

    def clone_while_changing(self):
        index.add(ids[300:400], vectors[300:400], 3)
        index.remove(np.array([10, 250, 350]), 4)
        return real_clone(self)

    monkeypatch.setattr(faiss_index.VectorIndex, "clone", clone_while_changing)
    index.maintain()
    keep = np.setdiff1d(ids, [10, 250, 350])
    reader = index.reader()
    assert index.version == 4 and reader.count() == 397 and index.stats()["recent"] == 99  # 350 came and went
    for q in (0, 10, 250, 399):
        assert reader.search(vectors[q], 10)[0].tolist() == exact_top(vectors[keep], keep, vectors[q], 10)
    loaded = VectorPassageIndex.load(tmp_path, index.save(tmp_path))
    assert loaded.version == 4 and loaded.count() == 397
    assert loaded.reader().search(vectors[399], 5)[0].tolist() == reader.search(vectors[399], 5)[0].tolist()


def test_hnsw_recall_through_tombstones_is_measured(monkeypatch):
    monkeypatch.setattr(faiss_index, "EXACT_SEARCH_MAX", 100)
    vectors = unit_vectors(2000, seed=5)
    ids = np.arange(2000, dtype=np.int64)
    index = VectorPassageIndex.build(ids, vectors, 1)
    index.remove(ids[::20], 2)
    assert index.kind == "hnsw"
    live = np.setdiff1d(ids, ids[::20])
    reader, sample = index.reader(), live[::7][:100]
    found = [len(set(reader.search(vectors[q], 10)[0].tolist()) & set(exact_top(vectors[live], live, vectors[q], 10)))
             for q in sample]
    assert vector_index.recall_at_10(reader, sample) == pytest.approx(np.mean(found) / 10)
    assert 0.9 <= index.stats()["recall_at_10"] <= 1.0  # measured at build time, on its own sample
    monkeypatch.setattr(vector_index, "RECALL_REMEASURE", 50)  # 100 tombstones since: measure again
    assert index.remeasure_due() and not index.needs_maintenance()
    index.measure()
    assert not index.remeasure_due() and index.stats()["tombstones"] == 100
    sample = np.sort(np.random.default_rng(2).choice(live, size=vector_index.RECALL_SAMPLE, replace=False))
    assert index.stats()["recall_at_10"] == round(vector_index.recall_at_10(index.reader(), sample), 4)


def test_an_empty_index_takes_its_dimension_from_the_first_vectors():
    index = VectorPassageIndex.empty()
    assert index.dim is None and index.reader().search(unit_vectors(1)[0], 3)[0].size == 0
    index.add(np.array([1, 2]), unit_vectors(2, 16), 1)
    assert index.dim == 16 and index.count() == 2
    with pytest.raises(ValueError, match="cannot join"):
        index.add(np.array([3]), unit_vectors(1, 8), 2)
