"""One FAISS index (flat or HNSW, inner product) with stable int64 ids, and the thread policy of numeric work."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from embeddings.errors import MissingDependencyError

# Below this many vectors exact search is fast enough and loses nothing; above it HNSW is much faster
# (scripts/bench.py --vectors measures both).
EXACT_SEARCH_MAX = 100_000
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80
# Deep enough that recall@10 stays above 0.98 with tombstones among the neighbours (the collection's
# own measurement, in the manifest and /healthz, is what checks it).
HNSW_EF_SEARCH = 192
# A filter that keeps this few vectors is searched exactly: HNSW graph walks miss neighbours
# when most of the graph is filtered out.
EXACT_FILTER_MAX = 50_000


def faiss_module():
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - faiss-cpu is a hard dependency
        raise MissingDependencyError("faiss is not installed: pip install faiss-cpu") from exc
    return faiss


_single_threaded = threading.local()


def use_single_thread() -> None:
    """Run this thread's numeric work on one core: FAISS's OpenMP and every BLAS (e.g. numpy's).

    A single query gains nothing from thread pools, and their workers spin after each call: a
    server thread on the defaults burned a third more CPU than the request needed. The BLAS limit is
    process-wide, OpenMP's is per thread, so each server thread calls this once (cheap afterwards).
    """
    if getattr(_single_threaded, "done", False):
        return
    faiss_module().omp_set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency; without it numpy keeps its threads
        pass
    else:
        threadpool_limits(limits=1)
    _single_threaded.done = True


def faiss_ids(index) -> np.ndarray:
    """The external ids an IndexIDMap holds, in row order."""
    faiss = faiss_module()
    return faiss.vector_to_array(index.id_map).astype(np.int64)


def choose_kind(n_vectors: int) -> str:
    return "flat" if n_vectors <= EXACT_SEARCH_MAX else "hnsw"


class VectorIndex:
    """Stable int64 ids (passage pids) -> vectors; search returns ids, never FAISS row numbers."""

    def __init__(self, dim: int, kind: str = "flat") -> None:
        faiss = faiss_module()
        self.dim = dim
        self.kind = kind
        self.saved_as: str | None = None  # the file under the collection directory holding this index, once saved
        if kind == "flat":
            # Exact search over half-precision copies: half the memory and a faster scan, with the top 10
            # of float32 search (scripts/bench.py --vectors measures the scan and the recall).
            inner = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        elif kind == "hnsw":
            inner = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            inner.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            raise ValueError(f"unknown index kind {kind!r}: use 'flat' or 'hnsw'")
        self._index = faiss.IndexIDMap2(inner)

    @classmethod
    def build(cls, dim: int, blocks: Iterable[tuple[np.ndarray, np.ndarray]], n_vectors: int, kind: str | None = None) -> VectorIndex:
        index = cls(dim, kind or choose_kind(n_vectors))
        for ids, vectors in blocks:
            index.add(ids, vectors)
        return index

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def supports_remove(self) -> bool:
        return self.kind == "flat"

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if not self.supports_remove:
            raise ValueError("HNSW indexes cannot remove vectors; rebuild the index instead")
        self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None,
               excluded_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row; rows with fewer hits are padded with id -1.

        `allowed_ids` keeps only those ids; else `excluded_ids` (tombstones, an excluded document) leaves those out.
        """
        faiss = faiss_module()
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = max(1, min(k, len(self))) if len(self) else 1
        params = None
        if allowed_ids is not None and self.kind == "hnsw" and len(allowed_ids) <= EXACT_FILTER_MAX:
            return self._search_subset(queries, k, np.asarray(allowed_ids, dtype=np.int64))
        if allowed_ids is None and excluded_ids is not None and len(excluded_ids):
            batch = faiss.IDSelectorBatch(np.ascontiguousarray(excluded_ids, dtype=np.int64))
            selector = faiss.IDSelectorNot(batch)
            if self.kind == "hnsw":
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, 2 * k))
            else:
                params = faiss.SearchParameters(sel=selector)
        elif allowed_ids is not None:
            selector = faiss.IDSelectorBatch(np.asarray(allowed_ids, dtype=np.int64))
            if self.kind == "hnsw":
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, 2 * k))
            else:
                params = faiss.SearchParameters(sel=selector)
        elif self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, 2 * k))
        scores, ids = self._index.search(queries, k, params=params)
        return scores, ids

    def recall_at_10(self, sample_ids: np.ndarray) -> float:
        """Share of the exact top 10 this index returns, with stored vectors as queries (1.0 for flat)."""
        if self.kind == "flat" or not len(sample_ids):
            return 1.0
        queries = self.vectors_of(sample_ids)
        _, approximate = self.search(queries, 10)
        exact = np.zeros((len(queries), 0), dtype=np.int64)
        best = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        all_ids = faiss_ids(self._index)
        for start in range(0, len(all_ids), 50_000):
            block = all_ids[start : start + 50_000]
            scores = queries @ self.vectors_of(block).T
            best = np.concatenate([best, scores], axis=1)
            exact = np.concatenate([exact, np.broadcast_to(block, scores.shape)], axis=1)
            keep = np.argsort(-best, axis=1)[:, :10]
            best, exact = np.take_along_axis(best, keep, 1), np.take_along_axis(exact, keep, 1)
        hits = [len(set(a.tolist()) & set(b.tolist())) for a, b in zip(approximate, exact, strict=True)]
        return float(np.mean(hits)) / 10

    def ids(self) -> np.ndarray:
        """Every id the index holds, sorted."""
        return np.sort(faiss_ids(self._index))

    def clone(self) -> VectorIndex:
        faiss = faiss_module()
        copy = VectorIndex.__new__(VectorIndex)
        copy.dim, copy.kind, copy.saved_as = self.dim, self.kind, None  # a copy is changed, then saved anew
        copy._index = faiss.clone_index(self._index)
        if self.kind == "hnsw":
            faiss.downcast_index(copy._index.index).hnsw.efSearch = HNSW_EF_SEARCH
        return copy

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of these ids (every id must be in the index)."""
        return self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def _search_subset(self, queries: np.ndarray, k: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not len(ids):
            return np.full((len(queries), k), -np.inf, dtype=np.float32), np.full((len(queries), k), -1, dtype=np.int64)
        scores = queries @ self.vectors_of(ids).T
        order = np.argsort(-scores, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, order, axis=1)
        top_ids = ids[order]
        if top_ids.shape[1] < k:
            pad = k - top_ids.shape[1]
            top_scores = np.pad(top_scores, ((0, 0), (0, pad)), constant_values=-np.inf)
            top_ids = np.pad(top_ids, ((0, 0), (0, pad)), constant_values=-1)
        return top_scores.astype(np.float32), top_ids

    def save(self, path: Path) -> None:
        """Write to a temporary file and rename it into place, so readers never see half a file."""
        faiss = faiss_module()
        tmp = path.with_name(path.name + ".tmp")
        faiss.write_index(self._index, str(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        faiss = faiss_module()
        loaded = faiss.read_index(str(path))
        inner = faiss.downcast_index(loaded.index)
        self = cls.__new__(cls)
        self.dim = loaded.d
        self.kind = "hnsw" if isinstance(inner, faiss.IndexHNSW) else "flat"
        self.saved_as = None
        if self.kind == "hnsw":
            inner.hnsw.efSearch = HNSW_EF_SEARCH
        self._index = loaded
        return self
