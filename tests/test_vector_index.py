import numpy as np
import pytest

from embeddings.vector_index import VectorIndex, choose_kind


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
