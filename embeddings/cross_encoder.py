"""A sentence-transformers CrossEncoder, by name or path, as a (query, passages) -> scores function."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from embeddings.errors import BadInputError, MissingDependencyError


class CrossEncoderScorer:
    """Scores query-passage pairs with any sentence-transformers CrossEncoder; loaded once, shared by threads."""

    def __init__(self, name_or_path: str, device: str | None = None, batch_size: int = 16) -> None:
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:  # pragma: no cover - a hard dependency
            raise MissingDependencyError("sentence-transformers is not installed: pip install sentence-transformers") from exc
        try:
            self._model = CrossEncoder(name_or_path, device=device or "cpu")
        except (OSError, ValueError) as exc:
            raise BadInputError(f"cannot load the reranker {name_or_path!r} ({exc}); give a sentence-transformers "
                                "CrossEncoder name from the hub or the path of a local one") from None
        self.name = name_or_path
        self.batch_size = batch_size
        self._lock = threading.Lock()  # torch modules are not safe to call from several threads at once

    def __call__(self, query: str, passages: Sequence[str]) -> np.ndarray:
        if not passages:
            return np.empty(0, dtype=np.float32)
        with self._lock:
            scores = self._model.predict([(query, text) for text in passages], batch_size=self.batch_size,
                                         show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(scores, dtype=np.float32).reshape(len(passages), -1)[:, -1]
