"""The one interface every passage index honours: the FAISS vector index, the BM25 index, a Milvus backend.

An index maps passage ids (the store's `pid`, int64, never reused) to what it searches: a vector
(float32, unit length) for a vector index, a list of BM25 tokens for a lexical one. It has two sides:

- the **write side**, `PassageIndex`: `build`, `add`, `remove`, `save`, `load`, `count`, and `reader`.
  Only the collection calls it, one change at a time (it holds the write lock). Every change names the
  store version it brings the index to, so after a crash the collection knows from where to catch up.
- the **read side**, `IndexReader` (`VectorReader` / `LexicalReader`): what one request searches. A reader
  answers as of one version from its first call to its last, whatever changes land meanwhile; the
  embedded backends hand out immutable states, so holding a reader costs nothing and a released one
  is freed with its last reference.

Every search answers in one shape, for every backend: `(pids, scores)` — `pids` an int64 array,
`scores` a float32 array of the same length (at most k), best first (higher score is better; ties
by ascending pid). Unknown or filtered-out passages never appear; fewer than k hits give shorter arrays
(no -1 padding). Filters are the store's `PassageFilter` plus an optional excluded document: a backend
with its own metadata (Milvus) turns them into its filter expressions; the embedded backends ask the
`StoreView` they were given for the pids they allow, as of the same store version.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Generic, Protocol, TypeVar

import numpy as np

from qa.types import PassageFilter

Hits = tuple[np.ndarray, np.ndarray]  # (pids int64, scores float32), best first


def no_hits() -> Hits:
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)


def top_hits(pids: np.ndarray, scores: np.ndarray, k: int) -> Hits:
    """The k best of these (pids, scores) in the interface's order: score descending, then pid ascending."""
    if k <= 0 or not len(pids):
        return no_hits()
    pids = np.asarray(pids, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float32)
    if len(pids) > k:
        # Keep every pid tied with the k-th score so the pid tie-break below sees all of them.
        kth = np.partition(-scores, k - 1)[k - 1]
        keep = -scores <= kth
        pids, scores = pids[keep], scores[keep]
    order = np.lexsort((pids, -scores))[:k]
    return pids[order], scores[order]


def held_in(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Mask of the `ids` found in `sorted_ids` (ascending), by binary search: no sort per call."""
    ids = np.asarray(ids, dtype=np.int64)
    if not len(sorted_ids) or not len(ids):
        return np.zeros(len(ids), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return np.asarray(sorted_ids)[at] == ids


class StoreView(Protocol):
    """The store reads an embedded index needs to apply filters, as of the reader's version."""

    def filtered_pids(self, where: PassageFilter) -> np.ndarray:
        """Sorted int64 pids of the passages `where` allows."""
        ...

    def pids_of_document(self, doc_id: str) -> np.ndarray:
        """Sorted int64 pids of one document's passages (empty when it is not there)."""
        ...


class IndexReader(Protocol):
    """One index as of one version: what a request searches."""

    kind: str  # what /healthz reports, e.g. "flat", "hnsw", "bm25", "milvus:HNSW"
    version: int  # the store version this reader reflects

    def count(self) -> int:
        """Passages this reader holds (tombstoned ones not counted)."""
        ...


class VectorReader(IndexReader, Protocol):
    def search(self, query: np.ndarray, k: int, where: PassageFilter | None = None,
               exclude_doc: str | None = None) -> Hits:
        """The k passages of highest inner product (cosine: vectors are unit length) with `query`.

        Args:
            query: float32 array of shape (dim,).
            k: how many at most (>= 1).
            where: only passages it allows; None or an inactive filter allows all.
            exclude_doc: leave out this document's passages (after `where`).
        Returns:
            (pids, scores): int64 and float32 arrays, best first, at most k long.
        """
        ...

    def score(self, query: np.ndarray, pids: np.ndarray) -> np.ndarray:
        """float32 inner product of `query` with each of `pids`, in their order; 0.0 for a pid it does not hold."""
        ...


class LexicalReader(IndexReader, Protocol):
    def search(self, query: Sequence[str], k: int, where: PassageFilter | None = None,
               exclude_doc: str | None = None) -> Hits:
        """The k passages of highest BM25 score for these query tokens (a repeated token counts again).

        Only passages with a positive score are returned; statistics (N, average length, document
        frequencies) are the whole collection's as of this version, not the filtered subset's, so the
        scores equal those of an index built from scratch from the same passages.
        """
        ...

    def score(self, query: Sequence[str], pids: np.ndarray) -> np.ndarray:
        """float32 BM25 score of each of `pids` for these tokens, in their order; 0.0 where it does not match."""
        ...

    def knows(self, token: str) -> bool:
        """Whether any passage this reader holds contains the token (qa.index.contract.Capabilities says
        whether that is cheap to ask)."""
        ...


class PassageIndex(ABC):
    """The write side of an index. Not thread-safe for writers: the collection serialises changes;
    `reader()` may be called from any thread at any time."""

    @property
    @abstractmethod
    def kind(self) -> str:
        """What the manifest and /healthz call it, e.g. "flat", "hnsw", "bm25"."""

    @property
    @abstractmethod
    def version(self) -> int:
        """The store version the index reflects: every change since is in the store's change log."""

    @classmethod
    @abstractmethod
    def build(cls, pids: np.ndarray, items: Sequence, version: int, **options) -> PassageIndex:
        """A new index over these passages (`items[i]` is what `pids[i]` is searched by), at store `version`."""

    @abstractmethod
    def add(self, pids: np.ndarray, items: Sequence, version: int) -> None:
        """Index these new passages (pids never seen before); afterwards the index reflects `version`."""

    @abstractmethod
    def remove(self, pids: np.ndarray, version: int) -> None:
        """Stop returning these passages (unknown pids are ignored); afterwards the index reflects `version`."""

    @abstractmethod
    def count(self) -> int:
        """Passages the index holds now."""

    @abstractmethod
    def reader(self, store: StoreView) -> IndexReader:
        """A reader of the current version; later changes do not affect it."""

    @abstractmethod
    def save(self, directory: Path) -> dict:
        """Write what `load` needs under `directory` (new names only, never overwriting a file a manifest
        may name); returns the manifest entry, a JSON-able dict holding at least "kind" and "version"."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, entry: dict) -> PassageIndex:
        """The index a `save` wrote, from its manifest entry; it reflects `entry["version"]`."""

    def files(self, entry: dict) -> set[str]:
        """Names under the collection directory that `entry` needs (so older ones can be deleted)."""
        return set(entry.get("files", ()))

    def needs_maintenance(self) -> bool:
        """Whether background work (merging recent segments, dropping tombstones) is due."""
        return False

    def maintain(self) -> None:
        """Do that work; called from a background thread while `add`/`remove` go on. Default: nothing."""
        return None

    def stats(self) -> dict:
        """What the manifest and /healthz report about this index, e.g. {"kind": "hnsw", "recall_at_10": 0.99}."""
        return {"kind": self.kind}


class _Versioned(Protocol):
    @property
    def version(self) -> int: ...


StateT = TypeVar("StateT", bound=_Versioned)


class ImmutableStateIndex(PassageIndex, Generic[StateT]):
    """An index whose whole content is one immutable state: a reader keeps the state it was handed, and
    each change (or a background merge) builds the next state and swaps it in under the lock."""

    def __init__(self, state: StateT) -> None:
        self._state = state
        self._lock = threading.Lock()  # orders changes against a merge being installed

    @property
    def version(self) -> int:
        return self._state.version
