"""One vector for a query of any length, recent ones remembered."""

from __future__ import annotations

import re
import threading

import numpy as np

from embeddings.base import Encoder
from qa.text.normalize import to_simplified
from qa.text.sentences import split_sentences

# Recent query vectors kept: a few MB, bounded whatever the traffic.
CACHE_SIZE = 2048
_SPACE = re.compile(r"\s+")


class QueryVectors:
    """Query vectors from one encoder: long pasted text is embedded in windows of whole sentences, averaged.

    The same query comes back often (the next page, another filter, the web form and the API asking
    alike), so recent vectors are kept: a repeat skips the model (scripts/bench.py measures what
    embedding a query costs). Safe to share between threads.
    """

    def __init__(self, encoder: Encoder, *, window_chars: int, batch_size: int = 32,
                 cache_size: int = CACHE_SIZE) -> None:
        self.encoder = encoder
        self.window_chars = window_chars
        self.batch_size = batch_size
        self.cache_size = cache_size
        self._recent: dict[str, np.ndarray] = {}  # oldest first
        self._lock = threading.Lock()

    def embed(self, text: str) -> np.ndarray:
        """The query's vector, read-only: it is shared between requests."""
        vector = self._recent.get(text)
        if vector is None:
            vector = self._embed(text)
            vector.flags.writeable = False
            with self._lock:
                self._recent[text] = vector
                while len(self._recent) > self.cache_size:
                    self._recent.pop(next(iter(self._recent)))
        return vector

    def _embed(self, text: str) -> np.ndarray:
        normalised = to_simplified(text)
        if self.encoder.count_tokens(normalised) <= self.encoder.max_tokens:
            return self.encoder.embed_query(normalised)
        windows = sentence_windows(normalised, self.window_chars)
        vectors = self.encoder.embed(windows, "query", self.batch_size)
        weights = np.array([len(w) for w in windows], dtype=np.float32)
        mean = (vectors * weights[:, None]).sum(axis=0)
        return (mean / np.linalg.norm(mean)).astype(np.float32)


def sentence_windows(text: str, size: int) -> list[str]:
    """The text as consecutive windows of whole sentences up to `size` characters (a longer sentence is cut)."""
    windows, current = [], ""
    for start, end in split_sentences(text):
        sentence = _SPACE.sub(" ", text[start:end])
        if current and len(current) + len(sentence) > size:
            windows.append(current)
            current = ""
        current += sentence
        while len(current) > size:
            windows.append(current[:size])
            current = current[size:]
    if current:
        windows.append(current)
    return windows or [text[:size]]
