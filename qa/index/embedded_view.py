"""What one request reads of the embedded collection: its indexes and store as of one version."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qa.index.lexical import LexicalSnapshot
from qa.index.reuse_index import ReuseReader
from qa.index.sentence_copy import SentenceFile
from qa.index.store import StoreSnapshot
from qa.index.vector_index import VectorSnapshot
from qa.types import DocumentSummary, FacetFields, Passage


class EmbeddedView:
    """What one request reads (qa.index.contract.CollectionView): indexes and store as of one version."""

    def __init__(self, store: StoreSnapshot, vectors: VectorSnapshot, lexical: LexicalSnapshot, model: str,
                 reuse: ReuseReader, sentences: SentenceFile | None = None) -> None:
        """`sentences`: the copy of the sentence vectors requests read first (qa.index.sentence_copy), once made."""
        self.store = store
        self.vectors = vectors
        self.lexical = lexical
        self.reuse = reuse
        self.version = store.version
        self._model = model
        self._sentences = sentences

    def dense_scores(self, query: np.ndarray, pids: np.ndarray) -> np.ndarray:
        """Each passage's cosine with the query: that of its best sentence, or of the passage vector for
        passages stored without sentence vectors."""
        return self.sentence_cosines(np.asarray(query, dtype=np.float32).reshape(1, -1), pids)[:, 0]

    def sentence_cosines(self, queries: np.ndarray, pids: np.ndarray) -> np.ndarray:
        """(passages, queries) float32: each query's cosine with each passage's best sentence for it (with
        the passage vector, for passages stored without sentence vectors). One read of the sentence
        vectors serves a question and its clauses."""
        queries = np.asarray(queries, dtype=np.float32)
        out = np.zeros((len(pids), len(queries)), dtype=np.float32)
        scored = np.zeros(len(pids), dtype=bool)
        owners, rows = self.store.sentence_vectors(self._model, pids.tolist(), queries.shape[1], self._sentences)
        if len(owners):
            starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
            position = {pid: i for i, pid in enumerate(pids.tolist())}
            at = [position[int(pid)] for pid in owners[starts]]
            out[at] = np.maximum.reduceat(rows @ queries.T, starts, axis=0)
            scored[at] = True
        if not scored.all():
            unscored = pids[~scored]
            out[~scored] = np.stack([self.vectors.score(query, unscored) for query in queries], axis=1)
        return out

    def title_scores(self, query: np.ndarray, titles: Sequence[str]) -> dict[str, float]:
        """Cosine of the query with each of these document titles that has a vector."""
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        return {title: float(vector @ query) for title, vector in self.store.title_vectors(self._model, titles).items()}

    def passages(self, pids: Sequence[int]) -> dict[int, Passage]:
        return self.store.passages(pids)

    def documents(self, doc_ids: Sequence[str]) -> dict[str, DocumentSummary]:
        return self.store.documents(doc_ids)

    def facet_fields(self, pids: Sequence[int]) -> list[FacetFields]:
        return self.store.facet_fields(pids)
