"""The collection's vector index (qa.index.indexes.PassageIndex): a main FAISS index, a delta and tombstones.

The main index (qa.index.faiss_index.VectorIndex) is immutable; a small exact "delta" holds the
vectors added since it was built, and tombstones the removed ids (HNSW cannot remove vectors). A
background merge builds the next main index and swaps it in; searches running meanwhile keep the
state they started with.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.index.faiss_index import VectorIndex, choose_kind, faiss_ids, faiss_module
from qa.index.indexes import Hits, ImmutableStateIndex, StoreView, held_in, no_hits, top_hits
from qa.types import PassageFilter

# The delta is merged into the main index when it holds more than this share of it (and at least
# MERGE_MIN vectors), or tombstones reach TOMBSTONE_SHARE: until then an upload costs one small copy.
MERGE_MIN = 5_000
MERGE_SHARE = 0.1
TOMBSTONE_SHARE = 0.1
RECALL_SAMPLE = 500  # queries per measurement: fewer made the figure wander by a point
RECALL_REMEASURE = 1_000  # tombstones or recent vectors since the last measurement


@dataclass(frozen=True, eq=False)
class VectorState:
    """The vector index as of one version. Never changed once made (the delta arrays are views of a
    buffer that later states only append to beyond their end)."""

    main: VectorIndex | None
    main_ids: np.ndarray  # sorted ids in `main`, tombstoned ones included
    delta_ids: np.ndarray  # ascending
    delta_vectors: np.ndarray  # float32 (len(delta_ids), dim)
    dead: np.ndarray  # sorted tombstoned ids (in main or delta)
    dim: int | None
    version: int
    recall_at_10: float | None = None

    @property
    def kind(self) -> str:
        return self.main.kind if self.main is not None else choose_kind(len(self.delta_ids))

    def live_count(self) -> int:
        return len(self.main_ids) + len(self.delta_ids) - len(self.dead)

    def live_ids(self) -> np.ndarray:
        return np.setdiff1d(np.union1d(self.main_ids, self.delta_ids), self.dead, assume_unique=True)


class VectorSnapshot:
    """VectorReader over one VectorState."""

    def __init__(self, state: VectorState, store: StoreView | None) -> None:
        self._state = state
        self._store = store
        self.version = state.version
        self.kind = state.kind
        self.recall_at_10 = state.recall_at_10

    def count(self) -> int:
        return self._state.live_count()

    def _filters(self, where: PassageFilter | None, exclude_doc: str | None) -> tuple[np.ndarray | None, np.ndarray]:
        allowed = None
        excluded = np.empty(0, dtype=np.int64)
        if (where is not None and where.active) or exclude_doc:
            if self._store is None:
                raise ValueError("filters need the store: take the reader from a collection snapshot")
            if where is not None and where.active:
                allowed = self._store.filtered_pids(where)
            if exclude_doc:
                excluded = self._store.pids_of_document(exclude_doc)
        return allowed, excluded

    def search(self, query: np.ndarray, k: int, where: PassageFilter | None = None,
               exclude_doc: str | None = None) -> Hits:
        state = self._state
        allowed, excluded = self._filters(where, exclude_doc)
        banned = np.union1d(state.dead, excluded)
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        pids, scores = [], []
        if state.main is not None and len(state.main_ids):
            # Membership by binary search in the sorted main ids: set operations would sort them on every request.
            if allowed is not None:
                in_main = allowed[held_in(state.main_ids, allowed)]
                in_main = in_main[~held_in(banned, in_main)]
                found = state.main.search(query, k, allowed_ids=in_main) if len(in_main) else None
            else:
                found = state.main.search(query, k, excluded_ids=banned[held_in(state.main_ids, banned)])
            if found is not None:
                main_scores, main_ids = found[0][0], found[1][0]
                keep = main_ids >= 0
                pids.append(main_ids[keep])
                scores.append(main_scores[keep])
        if len(state.delta_ids):
            keep = ~held_in(banned, state.delta_ids)
            if allowed is not None:
                keep &= held_in(allowed, state.delta_ids)
            if keep.any():
                pids.append(state.delta_ids[keep])
                scores.append(state.delta_vectors[keep] @ query)
        if not pids:
            return no_hits()
        return top_hits(np.concatenate(pids), np.concatenate(scores), k)

    def vectors(self, pids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mask of the pids this state holds, their vectors in order)."""
        state = self._state
        pids = np.asarray(pids, dtype=np.int64).reshape(-1)
        dim = state.dim or 1
        out = np.zeros((len(pids), dim), dtype=np.float32)
        alive = ~np.isin(pids, state.dead)
        found = np.zeros(len(pids), dtype=bool)
        if len(state.delta_ids):
            at = np.minimum(np.searchsorted(state.delta_ids, pids), len(state.delta_ids) - 1)
            in_delta = alive & (state.delta_ids[at] == pids)
            out[in_delta] = state.delta_vectors[at[in_delta]]
            found |= in_delta
        if state.main is not None and len(state.main_ids):
            at = np.minimum(np.searchsorted(state.main_ids, pids), len(state.main_ids) - 1)
            in_main = alive & ~found & (state.main_ids[at] == pids)
            if in_main.any():
                out[in_main] = state.main.vectors_of(pids[in_main])
            found |= in_main
        return found, out

    def score(self, query: np.ndarray, pids: np.ndarray) -> np.ndarray:
        found, vectors = self.vectors(pids)
        scores = vectors @ np.asarray(query, dtype=np.float32).reshape(-1) if len(vectors) else np.zeros(0, np.float32)
        return np.where(found, scores, 0.0).astype(np.float32)


def _exact_top10(state: VectorState, queries: np.ndarray) -> np.ndarray:
    """Ids of the true top 10 of each query over every live vector (float32 inner product)."""
    faiss = faiss_module()
    ids_found, scores_found = [], []
    if state.main is not None and len(state.main_ids):
        index = state.main._index
        rows_to_ids = faiss_ids(index)
        dead_rows = np.flatnonzero(held_in(state.dead, rows_to_ids)).astype(np.int64)
        # The main index's own float32 storage, scanned exactly (an HNSW graph keeps it beside the graph).
        inner = faiss.downcast_index(index.index)
        storage = faiss.downcast_index(inner.storage) if isinstance(inner, faiss.IndexHNSW) else None
        if storage is not None:
            params = faiss.SearchParameters(sel=faiss.IDSelectorNot(faiss.IDSelectorBatch(dead_rows))) if len(dead_rows) else None
            scores, rows = storage.search(queries, 10, params=params)
            ids = np.where(rows >= 0, rows_to_ids[np.maximum(rows, 0)], -1)
        else:
            scores, ids = state.main.search(queries, 10, excluded_ids=state.dead[held_in(state.main_ids, state.dead)])
        ids_found.append(ids)
        scores_found.append(np.where(ids >= 0, scores, -np.inf))
    live_delta = ~held_in(state.dead, state.delta_ids)
    if live_delta.any():
        scores = queries @ state.delta_vectors[live_delta].T
        ids_found.append(np.broadcast_to(state.delta_ids[live_delta], scores.shape))
        scores_found.append(scores)
    ids, scores = np.concatenate(ids_found, axis=1), np.concatenate(scores_found, axis=1)
    best = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    return np.take_along_axis(ids, best, axis=1)


def recall_at_10(snapshot: VectorSnapshot, sample: np.ndarray) -> float:
    """Share of the exact top 10 (float32 inner product over every live vector) that `snapshot.search`
    returns, stored vectors as queries; tombstones count, as in real searches."""
    if not len(sample):
        return 1.0
    _, queries = snapshot.vectors(sample)
    exact = _exact_top10(snapshot._state, np.ascontiguousarray(queries, dtype=np.float32))
    found = wanted = 0
    for query, best in zip(queries, exact, strict=True):
        best = set(best[best >= 0].tolist())  # fewer than 10 when fewer vectors are live
        found += len(set(snapshot.search(query, 10)[0].tolist()) & best)
        wanted += len(best)
    return found / wanted if wanted else 1.0


def _as_half_precision(vectors: np.ndarray) -> np.ndarray:
    """The vectors as the exact index stores them: through FAISS's own fp16 codes, whose rounding
    differs from numpy's float16 in the last bit for a few values."""
    quantizer = faiss_module().ScalarQuantizer(vectors.shape[1], faiss_module().ScalarQuantizer.QT_fp16)
    return quantizer.decode(quantizer.compute_codes(np.ascontiguousarray(vectors, dtype=np.float32)))


class VectorPassageIndex(ImmutableStateIndex[VectorState]):
    """The collection's vector index: main FAISS index + exact delta + tombstones (see the module docstring)."""

    @property
    def kind(self) -> str:
        return self._state.kind

    @property
    def dim(self) -> int | None:
        return self._state.dim

    @classmethod
    def empty(cls, version: int = 0, dim: int | None = None) -> VectorPassageIndex:
        return cls(VectorState(None, np.empty(0, np.int64), np.empty(0, np.int64),
                               np.empty((0, dim or 1), np.float32), np.empty(0, np.int64), dim, version, 1.0))

    @classmethod
    def build(cls, pids: np.ndarray, items: Sequence | np.ndarray, version: int = 0, *, dim: int | None = None,
              blocks: Iterable[tuple[np.ndarray, np.ndarray]] | None = None, n_vectors: int | None = None,
              kind: str | None = None, **options) -> VectorPassageIndex:
        """An index over (pids, vectors), or over `blocks` of them (n_vectors long in all) read a block at a time."""
        if blocks is None:
            blocks = [(np.asarray(pids, dtype=np.int64), np.asarray(items, dtype=np.float32))] if len(pids) else []
            n_vectors = len(pids)
        main: VectorIndex | None = None
        for ids, vectors in blocks:
            if main is None:
                dim = vectors.shape[1]
                main = VectorIndex(dim, kind or choose_kind(n_vectors or len(ids)))
            main.add(ids, vectors)
        if main is None:
            return cls.empty(version, dim)
        state = VectorState(main, main.ids(), np.empty(0, np.int64), np.empty((0, main.dim), np.float32),
                            np.empty(0, np.int64), main.dim, version)
        index = cls(state)
        index._state = index._with_recall(state)
        return index

    def _with_recall(self, state: VectorState) -> VectorState:
        if state.kind == "flat" or not state.live_count():
            recall = 1.0
        else:
            live = state.live_ids()
            sample = np.random.default_rng(state.version).choice(live, size=min(RECALL_SAMPLE, len(live)), replace=False)
            recall = recall_at_10(VectorSnapshot(state, None), np.sort(sample))
        return VectorState(state.main, state.main_ids, state.delta_ids, state.delta_vectors, state.dead, state.dim,
                           state.version, round(recall, 4))

    def add(self, pids: np.ndarray, items: Sequence | np.ndarray, version: int) -> None:
        pids = np.asarray(pids, dtype=np.int64)
        vectors = np.asarray(items, dtype=np.float32).reshape(len(pids), -1) if len(pids) else None
        with self._lock:
            state = self._state
            if vectors is None:
                self._state = _replace(state, version=version)
                return
            if state.dim is not None and vectors.shape[1] != state.dim:
                raise ValueError(f"vectors of {vectors.shape[1]} dimensions cannot join an index of {state.dim}")
            dim = vectors.shape[1]
            if (state.main.kind if state.main is not None else choose_kind(state.live_count() + len(pids))) == "flat":
                # The exact index keeps half-precision copies: so does the delta, so a passage scores
                # the same before and after a merge, and the same as in a fresh build.
                vectors = _as_half_precision(vectors)
            order = np.argsort(pids, kind="stable")
            pids, vectors = pids[order], vectors[order]
            n = len(state.delta_ids)
            buffer_ids, buffer_vectors = self._buffers(state, n + len(pids), dim)
            if len(state.delta_ids) and pids[0] <= state.delta_ids[-1]:
                raise ValueError("pids must be new: a store hands them out in increasing order")
            buffer_ids[n : n + len(pids)] = pids
            buffer_vectors[n : n + len(pids)] = vectors
            self._state = VectorState(state.main, state.main_ids, buffer_ids[: n + len(pids)],
                                      buffer_vectors[: n + len(pids)], state.dead, dim, version, state.recall_at_10)

    def _buffers(self, state: VectorState, needed: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """Arrays to append to in place: the current delta's buffer when it has room beyond the end
        every older state sees, else a larger copy."""
        ids, vectors = state.delta_ids, state.delta_vectors
        base_ids = ids.base if ids.base is not None else ids
        base_vectors = vectors.base if vectors.base is not None else vectors
        owned = getattr(self, "_buffer", None)
        if owned is not None and owned[0] is base_ids and len(base_ids) >= needed and base_vectors.shape[1] == dim:
            return base_ids, base_vectors
        capacity = max(256, 2 * needed)
        new_ids = np.empty(capacity, dtype=np.int64)
        new_vectors = np.empty((capacity, dim), dtype=np.float32)
        new_ids[: len(ids)] = ids
        new_vectors[: len(ids)] = vectors
        self._buffer: tuple[np.ndarray, np.ndarray] | None = (new_ids, new_vectors)
        return new_ids, new_vectors

    def remove(self, pids: np.ndarray, version: int) -> None:
        with self._lock:
            state = self._state
            pids = np.asarray(pids, dtype=np.int64)
            held = pids[held_in(state.main_ids, pids) | held_in(state.delta_ids, pids)]
            self._state = _replace(state, dead=np.union1d(state.dead, held), version=version)

    def count(self) -> int:
        return self._state.live_count()

    def __len__(self) -> int:
        return self._state.live_count()

    def reader(self, store: StoreView | None = None) -> VectorSnapshot:
        return VectorSnapshot(self._state, store)

    def stats(self) -> dict:
        state = self._state
        return {"kind": state.kind, "recall_at_10": state.recall_at_10, "tombstones": len(state.dead),
                "recent": len(state.delta_ids)}

    # -- background merging --------------------------------------------------
    def _merge_due(self) -> bool:
        state = self._state
        main = len(state.main_ids)
        if len(state.delta_ids) > max(MERGE_MIN, MERGE_SHARE * main) or len(state.dead) > TOMBSTONE_SHARE * max(main, MERGE_MIN):
            return True
        # Crossing the exact-search limit: the next main index is of the other kind.
        return state.main is not None and choose_kind(state.live_count()) != state.main.kind and bool(len(state.delta_ids) or len(state.dead))

    def _changes_since_measured(self) -> int:
        state = self._state
        return abs(len(state.dead) + len(state.delta_ids) - getattr(self, "_measured_at", 0))

    def needs_maintenance(self) -> bool:
        return self._merge_due()

    def remeasure_due(self) -> bool:
        """Whether enough changed (tombstones count) since an approximate index last measured its recall."""
        return self.kind == "hnsw" and self._changes_since_measured() >= RECALL_REMEASURE

    def measure(self) -> None:
        """Measure recall@10 of the current state again (seconds on a large index: call it in the background)."""
        start = self._state
        self._measured_at = len(start.dead) + len(start.delta_ids)
        measured = self._with_recall(start)
        with self._lock:
            self._state = _replace(self._state, recall_at_10=measured.recall_at_10)

    def maintain(self) -> None:
        """Build the next main index from the current state; changes made meanwhile are carried over."""
        start = self._state
        if not self._merge_due():
            return
        reader = VectorSnapshot(start, None)
        live_delta = ~np.isin(start.delta_ids, start.dead)
        total = start.live_count()
        kind = choose_kind(total)
        dead_in_main = np.intersect1d(start.dead, start.main_ids, assume_unique=True)
        main = start.main
        if main is not None and main.kind == kind and (kind == "flat" or len(dead_in_main) <= TOMBSTONE_SHARE * len(start.main_ids)):
            merged = main.clone()
            if kind == "flat" and len(dead_in_main):
                merged.remove(dead_in_main)
        else:
            merged = VectorIndex(start.dim or 1, kind)
            if main is not None:
                keep = np.setdiff1d(start.main_ids, dead_in_main, assume_unique=True)
                for block in range(0, len(keep), 50_000):
                    ids = keep[block : block + 50_000]
                    merged.add(ids, reader.vectors(ids)[1])
        merged.add(start.delta_ids[live_delta], start.delta_vectors[live_delta])
        merged_ids = merged.ids()
        with self._lock:
            now = self._state
            live_now = now.live_ids()
            rest = ~np.isin(now.delta_ids, merged_ids) & ~np.isin(now.delta_ids, now.dead)
            installed = VectorState(merged, merged_ids, now.delta_ids[rest].copy(), now.delta_vectors[rest].copy(),
                                    np.setdiff1d(merged_ids, live_now, assume_unique=True), now.dim, now.version,
                                    now.recall_at_10)
            self._buffer = None
            self._state = installed
        self._measured_at = len(installed.dead) + len(installed.delta_ids)
        measured = self._with_recall(installed)
        with self._lock:
            if self._state is installed:
                self._state = measured
            else:
                self._state = _replace(self._state, recall_at_10=measured.recall_at_10)

    # -- files ---------------------------------------------------------------------
    def save(self, directory: Path) -> dict:
        """The main index once under a name of its own; the delta and tombstones beside it."""
        state = self._state
        entry: dict = {"kind": state.kind, "version": state.version, "dim": state.dim, "passages": state.live_count(),
                       "recall_at_10": state.recall_at_10}
        files = []
        if state.main is not None:
            name = state.main.saved_as
            if name is None or not (directory / name).exists():
                name = f"vectors-{uuid.uuid4().hex[:12]}.faiss"
                state.main.save(directory / name)
                state.main.saved_as = name
            entry["main"] = name
            files.append(name)
        tail = f"vectors-tail-{uuid.uuid4().hex[:12]}.npz"
        with open(directory / tail, "wb") as handle:
            np.savez(handle, delta_ids=state.delta_ids, delta_vectors=state.delta_vectors, dead=state.dead)
            handle.flush()
            os.fsync(handle.fileno())
        entry["tail"] = tail
        entry["files"] = [*files, tail]
        return entry

    @classmethod
    def load(cls, directory: Path, entry: dict) -> VectorPassageIndex:
        main = None
        if entry.get("main"):
            main = VectorIndex.load(directory / entry["main"])
            main.saved_as = entry["main"]
        with np.load(directory / entry["tail"]) as tail:
            delta_ids, delta_vectors, dead = tail["delta_ids"], tail["delta_vectors"], tail["dead"]
        dim = entry.get("dim") or (main.dim if main is not None else None)
        if main is not None and dim != main.dim:
            raise ValueError(f"the manifest says {dim} dimensions, the index file holds {main.dim}")
        state = VectorState(main, main.ids() if main is not None else np.empty(0, np.int64), delta_ids.astype(np.int64),
                            delta_vectors.astype(np.float32).reshape(len(delta_ids), -1) if len(delta_ids) else
                            np.empty((0, dim or 1), np.float32), dead.astype(np.int64), dim, int(entry["version"]),
                            entry.get("recall_at_10"))
        return cls(state)


def _replace(state: VectorState, **changes) -> VectorState:
    from dataclasses import replace

    return replace(state, **changes)
