"""Hybrid fusion: one score per candidate from its cosine and its BM25, a pure function over arrays.

Every candidate either index found is scored by both sides (its true cosine and its true BM25), so
one list's cut-off never decides for the other. Measured against reciprocal-rank fusion on the
development questions (README): RRF buries a passage one list is sure of and the other ranks low;
scaled scores keep that confidence.
"""

from __future__ import annotations

import numpy as np

from qa.search.ranking import DEFAULT_RANKING


def with_clauses(cosine: np.ndarray, clause_cosine: np.ndarray, *,
                 clause_weight: float = DEFAULT_RANKING.fusion.clause_weight) -> np.ndarray:
    """The dense evidence of a question of several clauses: its own cosine mixed with the mean of its
    clauses' (each with the passage's sentence that meets it best)."""
    return (1 - clause_weight) * cosine + clause_weight * clause_cosine


def with_rendering(cosine: np.ndarray, rendering_cosine: np.ndarray, *,
                   rendering_share: float = DEFAULT_RANKING.fusion.rendering_share) -> np.ndarray:
    """The dense evidence of an English question: its own cosine mixed with its Chinese rendering's."""
    return (1 - rendering_share) * cosine + rendering_share * rendering_cosine


def union_candidates(*lists: np.ndarray) -> np.ndarray:
    """Every pid of these ranked lists once, in order of first appearance."""
    seen: dict[int, None] = {}
    for pids in lists:
        for pid in pids.tolist():
            seen.setdefault(pid, None)
    return np.fromiter(seen, dtype=np.int64, count=len(seen))


def fuse(cosine: np.ndarray | None, bm25: np.ndarray | None, *,
         dense_weight: float = DEFAULT_RANKING.fusion.dense_weight, dense_depth: int | None = None) -> np.ndarray:
    """Fused score of each candidate: dense_weight x scaled cosine + the rest x BM25 / best BM25.

    Args:
        cosine: each candidate's cosine with the query, or None when the dense side did not run.
        bm25: each candidate's BM25 score, or None when the lexical side did not run or matched nothing.
        dense_depth: how many candidates the dense side was asked for. Cosines are scaled from the one
            ranked just below that many (0) to the best (1), lower ones held at 0: the scale is the dense
            side's own list, not stretched by the BM25-only candidates far below it. None: min to max.
    Returns:
        float32 scores in [0, 1], one per candidate.
    """
    size = len(cosine) if cosine is not None else len(bm25) if bm25 is not None else 0
    fused = np.zeros(size, dtype=np.float32)
    if cosine is not None and size:
        low, high = float(cosine.min()), float(cosine.max())
        if dense_depth is not None and size > dense_depth:
            low = float(np.partition(cosine, size - 1 - dense_depth)[size - 1 - dense_depth])
        scaled = np.clip((cosine - low) / (high - low), 0, None) if high > low else np.ones(size, dtype=np.float32)
        fused += dense_weight * scaled
    if bm25 is not None and size:
        best = float(bm25.max())
        if best > 0:
            fused += (1 - dense_weight) * bm25 / best
    return fused


def ranked(pids: np.ndarray, scores: np.ndarray) -> list[tuple[int, float]]:
    """(pid, score) best first; ties keep the candidates' order."""
    order = np.argsort(-scores, kind="stable")
    return [(int(pids[i]), float(scores[i])) for i in order]
