"""The encoder interface: one abstract batch method; batching and prompts live here once."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

ProgressCallback = Callable[[int], None]


class Encoder(ABC):
    """Turns texts into L2-normalised float32 vectors.

    `name` identifies the model (its vectors are interchangeable whatever the backend),
    `dim` is the vector size, and `max_tokens` the most the model reads at once.
    """

    name: str
    dim: int
    max_tokens: int = 512
    backend: str = "?"
    device: str = "cpu"

    @abstractmethod
    def embed_batch(self, texts: Sequence[str], kind: str) -> np.ndarray:
        """Embed one batch; kind is "query" or "passage" (models such as e5 prefix each differently)."""

    def count_tokens(self, text: str) -> int:
        """Tokens the model would read for this text, prompt included; subclasses with a tokenizer answer exactly."""
        return int(len(text) * 0.8) + 8

    def embed(self, texts: Sequence[str], kind: str, batch_size: int = 32, progress: ProgressCallback | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Length-sorted batches waste no compute on padding; the order is restored below.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self.embed_batch([texts[i] for i in rows], kind)
            if progress:
                progress(len(rows))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_batch([text], "query")[0]
