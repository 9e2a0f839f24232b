"""Hybrid fusion: one score per candidate from its cosine and its BM25, a pure function over arrays.

Every candidate either index found is scored by both sides (its true cosine and its true BM25), so
one list's cut-off never decides for the other. Measured against reciprocal-rank fusion on the
development questions (README): RRF buries a passage one list is sure of and the other ranks low;
scaled scores keep that confidence.
"""

from __future__ import annotations

import numpy as np

# The dense side's share. Since passages are scored by their best sentence it is the surer side, for
# Chinese questions and for English ones (whose BM25 words are dictionary guesses) alike.
DENSE_WEIGHT = 0.6


def union_candidates(*lists: np.ndarray) -> np.ndarray:
    """Every pid of these ranked lists once, in order of first appearance."""
    seen: dict[int, None] = {}
    for pids in lists:
        for pid in pids.tolist():
            seen.setdefault(pid, None)
    return np.fromiter(seen, dtype=np.int64, count=len(seen))


def fuse(cosine: np.ndarray | None, bm25: np.ndarray | None, *, dense_weight: float = DENSE_WEIGHT) -> np.ndarray:
    """Fused score of each candidate: dense_weight x min-max-scaled cosine + the rest x BM25 / best BM25.

    Args:
        cosine: each candidate's cosine with the query, or None when the dense side did not run.
        bm25: each candidate's BM25 score, or None when the lexical side did not run or matched nothing.
    Returns:
        float32 scores in [0, 1], one per candidate.
    """
    size = len(cosine) if cosine is not None else len(bm25) if bm25 is not None else 0
    fused = np.zeros(size, dtype=np.float32)
    if cosine is not None and size:
        low, high = float(cosine.min()), float(cosine.max())
        fused += dense_weight * ((cosine - low) / (high - low) if high > low else np.ones(size, dtype=np.float32))
    if bm25 is not None and size:
        best = float(bm25.max())
        if best > 0:
            fused += (1 - dense_weight) * bm25 / best
    return fused


def ranked(pids: np.ndarray, scores: np.ndarray) -> list[tuple[int, float]]:
    """(pid, score) best first; ties keep the candidates' order."""
    order = np.argsort(-scores, kind="stable")
    return [(int(pids[i]), float(scores[i])) for i in order]
