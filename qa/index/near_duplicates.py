"""The near-duplicate index: MinHash signatures of a collection's documents in LSH buckets (qa.text.shingles)."""

from __future__ import annotations

import numpy as np

from qa.text.shingles import NEAR_DUPLICATE_JACCARD, band_keys, estimated_jaccard


class NearDuplicateFinder:
    """Holds the signatures of a collection's documents and finds the one a new text nearly repeats; kept in step
    with the collection's documents, so an upload need not read them all."""

    def __init__(self) -> None:
        self._buckets: dict[bytes, list[str]] = {}
        self._signatures: dict[str, np.ndarray] = {}

    def add(self, doc_id: str, signature: np.ndarray) -> None:
        self._signatures[doc_id] = signature
        for key in band_keys(signature):
            self._buckets.setdefault(key, []).append(doc_id)

    def find(self, signature: np.ndarray) -> str | None:
        best, best_score = None, NEAR_DUPLICATE_JACCARD
        for key in band_keys(signature):
            for doc_id in self._buckets.get(key, ()):
                score = estimated_jaccard(signature, self._signatures[doc_id])
                if score >= best_score:
                    best, best_score = doc_id, score
        return best

    def remove(self, doc_id: str) -> None:
        signature = self._signatures.pop(doc_id, None)
        if signature is None:
            return
        for key in band_keys(signature):
            bucket = self._buckets.get(key)
            if bucket is not None and doc_id in bucket:
                bucket.remove(doc_id)
                if not bucket:
                    del self._buckets[key]
