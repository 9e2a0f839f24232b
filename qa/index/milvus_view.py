"""What one request reads of a Milvus collection: its two searches as index readers, its passages and documents.

Milvus gives a client no snapshot: every read sees the latest committed rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qa.index.indexes import Hits
from qa.index.milvus_passages import MilvusPassages
from qa.index.milvus_rows import filter_expression
from qa.types import DocumentSummary, FacetFields, Passage, PassageFilter


class MilvusReader:
    """One side of the collection as an index reader (qa.index.indexes.IndexReader); every read sees the latest rows."""

    kind: str

    def __init__(self, passages: MilvusPassages) -> None:
        self._passages = passages
        self.version = passages.version

    def count(self) -> int:
        return self._passages.count_passages()


class MilvusVectorReader(MilvusReader):
    kind = "milvus:HNSW"

    def search(self, query: np.ndarray, k: int, where: PassageFilter | None = None, exclude_doc: str | None = None) -> Hits:
        return self._passages.search_vectors(query, k, filter_expression(where, exclude_doc))

    def score(self, query: np.ndarray, pids: np.ndarray) -> np.ndarray:
        vectors = self._passages.vectors_of(pids)
        query = np.asarray(query, dtype=np.float32)
        return np.array([float(vectors[int(pid)] @ query) if int(pid) in vectors else 0.0 for pid in pids], dtype=np.float32)


class MilvusLexicalReader(MilvusReader):
    kind = "milvus:BM25"

    def search(self, query: Sequence[str], k: int, where: PassageFilter | None = None, exclude_doc: str | None = None) -> Hits:
        return self._passages.search_bm25(query, k, filter_expression(where, exclude_doc))

    def score(self, query: Sequence[str], pids: np.ndarray) -> np.ndarray:
        if not len(pids):
            return np.zeros(0, dtype=np.float32)
        found, scores = self._passages.search_bm25(query, len(pids), filter_expression(None, pids=pids))
        by_pid = dict(zip(found.tolist(), scores.tolist(), strict=True))
        return np.array([by_pid.get(int(pid), 0.0) for pid in pids], dtype=np.float32)

    def knows(self, token: str) -> bool:
        return self._passages.knows(token)


class MilvusView:
    """What one request reads. Milvus gives no snapshot to a client: every read sees the latest committed
    rows, so a document removed mid-request drops out of that request's hits instead of failing it."""

    def __init__(self, passages: MilvusPassages) -> None:
        self.version = passages.version
        self.vectors = MilvusVectorReader(passages)
        self.lexical = MilvusLexicalReader(passages)
        self._passages = passages

    def passages(self, pids: Sequence[int]) -> dict[int, Passage]:
        return self._passages.passages_by_pid(pids)

    def dense_scores(self, query: np.ndarray, pids: np.ndarray) -> np.ndarray:
        # One vector a passage (the whole passage's, embedded as such): Milvus holds no sentence vectors.
        return self.vectors.score(query, pids)

    def sentence_cosines(self, queries: np.ndarray, pids: np.ndarray) -> np.ndarray:
        # Each passage's one vector, fetched once for every query.
        vectors = self._passages.vectors_of(pids)
        matrix = np.zeros((len(pids), self._passages.dim), dtype=np.float32)
        for i, pid in enumerate(pids.tolist()):
            if pid in vectors:
                matrix[i] = vectors[pid]
        return matrix @ np.asarray(queries, dtype=np.float32).T

    def title_scores(self, query: np.ndarray, titles: Sequence[str]) -> dict[str, float]:
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        return {title: float(vector @ query) for title, vector in self._passages.title_vectors(self._passages.model, titles).items()}

    def documents(self, doc_ids: Sequence[str]) -> dict[str, DocumentSummary]:
        return self._passages.get_documents(doc_ids)

    def facet_fields(self, pids: Sequence[int]) -> list[FacetFields]:
        # The summaries are held in memory here (qa.index.milvus_passages): only the passages' doc ids are fetched.
        doc_ids = [passage.doc_id for passage in self.passages(pids).values()]
        documents = self.documents(list(dict.fromkeys(doc_ids)))
        return [documents[doc_id].facet_fields for doc_id in doc_ids if doc_id in documents]
