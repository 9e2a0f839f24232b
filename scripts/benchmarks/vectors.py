"""Vector search at scale: the collection's own index kinds (qa.index.faiss_index.VectorIndex) on synthetic vectors.

Recall, the benchmark's one definition: recall@k of the index under test is the mean share of each query's
exact top k that the index returns in its own top k, where "exact" is float32 inner-product search over the
same vectors by FAISS's IndexFlatIP. The collection's exact index keeps half-precision copies, so it is
measured against float32 like HNSW, not taken as the reference.
"""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING

from scripts.benchmarks.timing import percentile

if TYPE_CHECKING:
    import numpy as np

BLOCK = 100_000  # vectors generated and added a block at a time, so a block's temporaries stay small


def clustered_unit_vectors(n: int, dim: int, seed: int, n_clusters: int = 2000) -> np.ndarray:
    """Gaussian mixture on the sphere: real embeddings cluster by topic; uniform random vectors do not."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, BLOCK):
        stop = min(n, start + BLOCK)
        labels = rng.integers(0, n_clusters, stop - start)
        block = centres[labels] + 0.6 * rng.standard_normal((stop - start, dim)).astype(np.float32)
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def exact_neighbours(base: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row numbers of each query's true top k: float32 inner product over every row of `base` (IndexFlatIP)."""
    import faiss

    index = faiss.IndexFlatIP(base.shape[1])
    for start in range(0, len(base), BLOCK):
        index.add(base[start : start + BLOCK])
    _, ids = index.search(queries, k)
    return ids


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of each row of `exact` (a query's true top k) that the same row of `found` holds."""
    k = exact.shape[1]
    return float(statistics.mean(len(set(a.tolist()) & set(b.tolist())) / k for a, b in zip(found, exact, strict=True)))


def _search_each(index, queries: np.ndarray, k: int) -> tuple[list[float], np.ndarray]:
    """Milliseconds of each single-query search, and the ids each returned."""
    import numpy as np

    times, found = [], []
    for query in queries:
        start = time.perf_counter()
        _, ids = index.search(query, k)
        times.append((time.perf_counter() - start) * 1000)
        found.append(ids[0])
    return times, np.array(found)


def bench_vectors(sizes: list[int], hnsw_max: int, dim: int = 384, n_queries: int = 200, k: int = 10) -> dict:
    """ms/query (FAISS's default threads, and one thread), build time and recall@k, per index kind and size."""
    import faiss
    import numpy as np

    from qa.index.faiss_index import VectorIndex

    out: dict = {}
    for n in sizes:
        data = clustered_unit_vectors(n + n_queries, dim, seed=n)
        base, queries = data[:n], data[n:]
        exact = exact_neighbours(base, queries, k)
        ids = np.arange(n, dtype=np.int64)
        row: dict = {}
        for kind in ("flat", "hnsw"):
            if kind == "hnsw" and n > hnsw_max:
                row[kind] = {"skipped": f"over --hnsw-max {hnsw_max}"}
                continue
            index = VectorIndex(dim, kind)
            start = time.perf_counter()
            for block in range(0, n, BLOCK):
                index.add(ids[block : block + BLOCK], base[block : block + BLOCK])
            build_s = time.perf_counter() - start
            times, found = _search_each(index, queries, k)
            # FAISS parallelises even one query with OpenMP, whose barriers stall when other processes hold
            # the cores; one thread (as the server runs each search) shows what a single query costs.
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            one_thread, _ = _search_each(index, queries, k)
            faiss.omp_set_num_threads(threads)
            row[kind] = {"build_s": round(build_s, 1), "ms_per_query_p50": round(statistics.median(times), 3),
                         "ms_per_query_p99": round(percentile(times, 0.99), 3),
                         "ms_per_query_1_thread_p50": round(statistics.median(one_thread), 3),
                         f"recall_at_{k}_vs_exact": round(recall_at_k(found, exact), 4)}
            del index
        out[str(n)] = row
    return out
