"""BM25 over jieba words of script-normalised text, so Traditional and Simplified meet."""

from __future__ import annotations

import functools
import json
import logging
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.textnorm import fold_width, to_simplified

# A token must hold a letter, digit or Han character; punctuation and spaces never count.
_WORDLIKE = re.compile(r"[0-9a-z\u3400-\u4dbf\u4e00-\u9fff]")
# Function words so common in speeches that they only add noise to BM25.
_STOPWORDS = frozenset("的 了 和 是 在 与 及 等 对 把 被 将 也 都 而 并 就 要 我们 一个 这 那 其 之 以 为 中 上 下".split())


@functools.lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def lexical_tokens(text: str) -> list[str]:
    """Search-mode jieba words (long words also yield their parts) of the Simplified, lower-cased text."""
    normalised = fold_width(to_simplified(text)).lower()
    return [
        token
        for token in _jieba().cut_for_search(normalised)
        if _WORDLIKE.search(token) and token not in _STOPWORDS and not token.isspace()
    ]


class LexicalIndex:
    """BM25 (bm25s) whose rows map to passage pids."""

    def __init__(self, retriever, pids: np.ndarray) -> None:
        self._retriever = retriever
        self.pids = pids
        # pid -> row by binary search over the sorted pids: no per-passage Python objects in memory.
        self._by_pid = np.argsort(pids, kind="stable")
        self._sorted_pids = pids[self._by_pid]

    @classmethod
    def build(cls, pids: Sequence[int], token_lists: Sequence[list[str]]) -> LexicalIndex:
        import bm25s

        retriever = bm25s.BM25()
        if len(pids):
            retriever.index(list(token_lists), show_progress=False)
        return cls(retriever, np.asarray(pids, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.pids)

    def knows(self, token: str) -> bool:
        return len(self.pids) > 0 and token in self._retriever.vocab_dict

    def scores(self, query_tokens: list[str], allowed_pids: np.ndarray | None = None) -> np.ndarray | None:
        """BM25 score of every row (0 where filtered out), or None when no query token is in the index."""
        known = [token for token in query_tokens if self.knows(token)]
        if not known:
            return None
        scores = self._retriever.get_scores(known)
        if allowed_pids is not None:
            mask = np.zeros(len(self.pids), dtype=bool)
            rows = self._rows(allowed_pids)
            mask[rows[rows >= 0]] = True
            scores = np.where(mask, scores, 0.0)
        return scores

    def scores_of(self, scores: np.ndarray, pids: np.ndarray) -> np.ndarray:
        """Pick the scores of these pids out of a `scores` array (0 for pids not indexed)."""
        rows = self._rows(pids)
        return np.where(rows >= 0, scores[np.maximum(rows, 0)], 0.0).astype(np.float32)

    def _rows(self, pids) -> np.ndarray:
        """Row of each pid in this index, -1 for pids it does not hold."""
        pids = np.asarray(pids, dtype=np.int64).reshape(-1)
        if not len(self.pids):
            return np.full(len(pids), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._sorted_pids, pids), len(self.pids) - 1)
        return np.where(self._sorted_pids[at] == pids, self._by_pid[at], -1)

    def search(self, query_tokens: list[str], k: int, allowed_pids: np.ndarray | None = None,
               scores: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(pids, scores) of the k best passages with a positive score, best first."""
        if scores is None:
            scores = self.scores(query_tokens, allowed_pids)
        if scores is None:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return self.pids[top], scores[top].astype(np.float32)

    def save(self, directory: Path) -> None:
        """Write beside the target and rename into place."""
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if len(self.pids):
            self._retriever.save(str(tmp), show_progress=False)
        np.save(tmp / "pids.npy", self.pids)
        (tmp / "done.json").write_text(json.dumps({"passages": len(self.pids)}))
        if directory.exists():
            shutil.rmtree(directory)
        tmp.rename(directory)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        import bm25s

        pids = np.load(directory / "pids.npy")
        if not len(pids):
            return cls(bm25s.BM25(), pids)
        # Memory-mapped: the score matrix is paged in as queries touch it, not copied into the heap.
        retriever = bm25s.BM25.load(str(directory), mmap=True, show_progress=False, verbosity=0)
        return cls(retriever, pids)
