"""BM25 over jieba words of script-normalised text, so Traditional and Simplified meet.

The index is a few immutable segments, as in Lucene: a large main one plus small recent ones, each
with tombstones for removed passages. Adding passages adds a segment; removing them marks tombstones;
a background merge folds the recent segments (and the tombstones) into a new main segment. BM25's
collection statistics (passages, average length, document frequencies) are computed over the live
passages of every segment at query time, so scores equal those of an index built from scratch.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.index.indexes import Hits, ImmutableStateIndex, StoreView, held_in, no_hits, top_hits
from qa.types import PassageFilter

# BM25 as Lucene (and bm25s, which built this index before) computes it.
K1 = 1.5
B = 0.75
# Recent segments are folded into one when there are more than this many; into the main segment when
# they hold more than RECENT_SHARE of it (at least RECENT_MIN passages) or tombstones reach TOMBSTONE_SHARE.
MAX_RECENT_SEGMENTS = 8
RECENT_MIN = 5_000
RECENT_SHARE = 0.1
TOMBSTONE_SHARE = 0.1
SEGMENT_ARRAYS = ("pids", "lengths", "indptr", "rows", "tfs")


@dataclass(frozen=True, eq=False)
class Segment:
    """Immutable BM25 postings of some passages: for term t, rows[indptr[t]:indptr[t+1]] hold it tfs times."""

    name: str
    pids: np.ndarray  # int64, ascending
    lengths: np.ndarray  # int32 tokens per row
    terms: dict[str, int]
    indptr: np.ndarray  # int64, len(terms) + 1
    rows: np.ndarray  # int32
    tfs: np.ndarray  # float32

    @classmethod
    def from_tokens(cls, pids: np.ndarray, token_lists: Sequence[Sequence[str]]) -> Segment:
        pids = np.asarray(pids, dtype=np.int64)
        order = np.argsort(pids, kind="stable")
        terms: dict[str, int] = {}
        term_ids: list[int] = []
        row_ids: list[int] = []
        counts: list[int] = []
        lengths = np.zeros(len(pids), dtype=np.int32)
        for row, source in enumerate(order):
            tokens = token_lists[source]
            lengths[row] = len(tokens)
            for token, count in Counter(tokens).items():
                term_ids.append(terms.setdefault(token, len(terms)))
                row_ids.append(row)
                counts.append(count)
        return cls._from_postings(pids[order], lengths, terms, np.array(term_ids, dtype=np.int64),
                                  np.array(row_ids, dtype=np.int32), np.array(counts, dtype=np.float32))

    @classmethod
    def _from_postings(cls, pids, lengths, terms, term_ids, rows, tfs) -> Segment:
        by_term = np.lexsort((rows, term_ids))
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(term_ids, minlength=len(terms)), out=indptr[1:])
        return cls(f"seg-{uuid.uuid4().hex[:12]}", pids, lengths, terms, indptr, rows[by_term].astype(np.int32),
                   tfs[by_term].astype(np.float32))

    @classmethod
    def merged(cls, parts: Sequence[tuple[Segment, np.ndarray]]) -> Segment:
        """One segment of the live rows of these (segment, dead mask) pairs, in their order."""
        terms: dict[str, int] = {}
        pids, lengths, term_ids, rows, tfs = [], [], [], [], []
        offset = 0
        for segment, dead in parts:
            live = ~dead
            new_row = np.cumsum(live) - 1 + offset
            # A segment's term ids are the positions of its terms (dict order), so this maps them to the new ones.
            remap = np.array([terms.setdefault(name, len(terms)) for name in segment.terms], dtype=np.int64)
            posting_terms = np.repeat(remap, np.diff(segment.indptr))
            keep = live[segment.rows]
            term_ids.append(posting_terms[keep])
            rows.append(new_row[segment.rows[keep]])
            tfs.append(np.asarray(segment.tfs)[keep])
            pids.append(np.asarray(segment.pids)[live])
            lengths.append(np.asarray(segment.lengths)[live])
            offset += int(live.sum())
        if not parts:
            return cls.from_tokens(np.empty(0, dtype=np.int64), [])
        pid_array, length_array, row_array = np.concatenate(pids), np.concatenate(lengths), np.concatenate(rows)
        if len(pid_array) > 1 and np.any(np.diff(pid_array) < 0):  # rows must stay in pid order
            order = np.argsort(pid_array, kind="stable")
            new_position = np.empty_like(order)
            new_position[order] = np.arange(len(order))
            pid_array, length_array, row_array = pid_array[order], length_array[order], new_position[row_array]
        return cls._from_postings(pid_array, length_array, terms, np.concatenate(term_ids),
                                  row_array.astype(np.int32), np.concatenate(tfs))

    def __len__(self) -> int:
        return len(self.pids)

    def postings(self, token: str) -> tuple[np.ndarray, np.ndarray] | None:
        term = self.terms.get(token)
        if term is None:
            return None
        start, end = int(self.indptr[term]), int(self.indptr[term + 1])
        return self.rows[start:end], self.tfs[start:end]

    def rows_of(self, pids: np.ndarray) -> np.ndarray:
        """Row of each pid, -1 where this segment does not hold it."""
        pids = np.asarray(pids, dtype=np.int64).reshape(-1)
        if not len(self.pids):
            return np.full(len(pids), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.pids, pids), len(self.pids) - 1)
        return np.where(self.pids[at] == pids, at, -1)

    def save(self, directory: Path) -> None:
        """Write into a temporary folder, then rename: a segment folder is always whole."""
        target = directory / self.name
        if (target / "terms.json").exists():
            return
        tmp = directory / (self.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        for field in SEGMENT_ARRAYS:
            with open(tmp / f"{field}.npy", "wb") as handle:
                np.save(handle, np.asarray(getattr(self, field)))
                handle.flush()
                os.fsync(handle.fileno())
        with open(tmp / "terms.json", "w", encoding="utf-8") as handle:
            json.dump(list(self.terms), handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)

    @classmethod
    def load(cls, directory: Path, name: str) -> Segment:
        folder = directory / name
        names = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
        # Memory-mapped: postings are paged in as queries touch them, not copied into the heap.
        arrays = {field: np.load(folder / f"{field}.npy", mmap_mode="r") for field in SEGMENT_ARRAYS}
        return cls(name, terms={term: i for i, term in enumerate(names)}, **arrays)


@dataclass(frozen=True, eq=False)
class LexicalState:
    """The index as of one version: segments with their tombstones. Never changed once made."""

    segments: tuple[Segment, ...]  # main first, then recent ones in the order they came
    dead: tuple[np.ndarray, ...]  # bool per row of each segment
    live: int
    total_length: int
    version: int

    def removing(self, pids: np.ndarray, version: int) -> LexicalState:
        dead, live, total = list(self.dead), self.live, self.total_length
        for i, segment in enumerate(self.segments):
            rows = segment.rows_of(pids)
            rows = rows[rows >= 0]
            rows = rows[~dead[i][rows]]
            if len(rows):
                dead[i] = dead[i].copy()
                dead[i][rows] = True
                live -= len(rows)
                total -= int(np.asarray(segment.lengths)[rows].sum())
        return LexicalState(self.segments, tuple(dead), live, total, version)

    def adding(self, segment: Segment, version: int) -> LexicalState:
        return LexicalState((*self.segments, segment), (*self.dead, np.zeros(len(segment), dtype=bool)),
                            self.live + len(segment), self.total_length + int(np.asarray(segment.lengths).sum()), version)


class LexicalSnapshot:
    """LexicalReader over one LexicalState; it remembers its last query's scores (search, then score)."""

    kind = "bm25"

    def __init__(self, state: LexicalState, store: StoreView | None) -> None:
        self._state = state
        self._store = store
        self.version = state.version
        self._memo: tuple[tuple[str, ...], list[np.ndarray]] | None = None

    def count(self) -> int:
        return self._state.live

    def knows(self, token: str) -> bool:
        state = self._state
        for segment, dead in zip(state.segments, state.dead, strict=True):
            found = segment.postings(token)
            if found is not None and not dead[found[0]].all():
                return True
        return False

    def _scores(self, query: Sequence[str]) -> list[np.ndarray]:
        """BM25 of every row of every segment (0 for tombstones and rows without a query token)."""
        key = tuple(query)
        if self._memo is not None and self._memo[0] == key:
            return self._memo[1]
        state = self._state
        out = [np.zeros(len(segment), dtype=np.float32) for segment in state.segments]
        if state.live:
            average = state.total_length / state.live
            for token, repeats in Counter(key).items():
                found = [segment.postings(token) for segment in state.segments]
                live_rows: list[tuple[np.ndarray, np.ndarray] | None] = []
                frequency = 0
                for i, hit in enumerate(found):
                    if hit is None:
                        live_rows.append(None)
                        continue
                    rows, tfs = hit
                    keep = ~state.dead[i][rows]
                    live_rows.append((rows[keep], np.asarray(tfs[keep], dtype=np.float64)))
                    frequency += int(keep.sum())
                if not frequency:
                    continue
                idf = np.log(1 + (state.live - frequency + 0.5) / (frequency + 0.5))
                for i, hit in enumerate(live_rows):
                    if hit is None or not len(hit[0]):
                        continue
                    rows, tfs = hit
                    length = np.asarray(state.segments[i].lengths)[rows].astype(np.float64)
                    tfc = tfs / (K1 * (1 - B + B * length / average) + tfs)
                    # A repeated query token counts once per repeat, as bm25s summed it.
                    out[i][rows] += (repeats * idf * tfc).astype(np.float32)
        self._memo = (key, out)
        return out

    def _allowed(self, where: PassageFilter | None, exclude_doc: str | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        allowed = excluded = None
        if where is not None and where.active:
            if self._store is None:
                raise ValueError("filters need the store: take the reader from a collection snapshot")
            allowed = self._store.filtered_pids(where)
        if exclude_doc:
            if self._store is None:
                raise ValueError("filters need the store: take the reader from a collection snapshot")
            excluded = self._store.pids_of_document(exclude_doc)
        return allowed, excluded

    def search(self, query: Sequence[str], k: int, where: PassageFilter | None = None,
               exclude_doc: str | None = None) -> Hits:
        allowed, excluded = self._allowed(where, exclude_doc)
        if allowed is not None and not len(allowed):
            return no_hits()
        pids, scores = [], []
        for segment, segment_scores in zip(self._state.segments, self._scores(query), strict=True):
            rows = np.flatnonzero(segment_scores > 0)
            pids.append(np.asarray(segment.pids)[rows])
            scores.append(segment_scores[rows])
        if not pids:
            return no_hits()
        all_pids, all_scores = np.concatenate(pids), np.concatenate(scores)
        keep = np.ones(len(all_pids), dtype=bool)
        if allowed is not None:
            keep &= held_in(allowed, all_pids)
        if excluded is not None and len(excluded):
            keep &= ~held_in(excluded, all_pids)
        return top_hits(all_pids[keep], all_scores[keep], k)

    def score(self, query: Sequence[str], pids: np.ndarray) -> np.ndarray:
        pids = np.asarray(pids, dtype=np.int64).reshape(-1)
        out = np.zeros(len(pids), dtype=np.float32)
        for segment, segment_scores in zip(self._state.segments, self._scores(query), strict=True):
            rows = segment.rows_of(pids)
            found = rows >= 0
            out[found] = segment_scores[rows[found]]
        return out


class LexicalIndex(ImmutableStateIndex[LexicalState]):
    """BM25 (Lucene's formula) over segments; `reader()` hands out the current immutable state."""

    kind = "bm25"

    @classmethod
    def build(cls, pids: np.ndarray, items: Sequence[Sequence[str]], version: int = 0, **options) -> LexicalIndex:
        segment = Segment.from_tokens(np.asarray(pids, dtype=np.int64), items)
        return cls(LexicalState((segment,), (np.zeros(len(segment), dtype=bool),), len(segment),
                                int(np.asarray(segment.lengths).sum()), version))

    def add(self, pids: np.ndarray, items: Sequence[Sequence[str]], version: int) -> None:
        segment = Segment.from_tokens(np.asarray(pids, dtype=np.int64), items) if len(pids) else None
        with self._lock:
            state = self._state
            self._state = state.adding(segment, version) if segment is not None else \
                LexicalState(state.segments, state.dead, state.live, state.total_length, version)

    def remove(self, pids: np.ndarray, version: int) -> None:
        with self._lock:
            self._state = self._state.removing(np.asarray(pids, dtype=np.int64), version)

    def count(self) -> int:
        return self._state.live

    def __len__(self) -> int:
        return self._state.live

    def reader(self, store: StoreView | None = None) -> LexicalSnapshot:
        return LexicalSnapshot(self._state, store)

    @property
    def segment_count(self) -> int:
        return len(self._state.segments)

    # -- background merging --------------------------------------------------
    def _merge_plan(self, state: LexicalState) -> int | None:
        """Index of the first segment to merge from (0: into the main one), or None when nothing is due."""
        main = len(state.segments[0])
        recent = sum(len(s) for s in state.segments[1:])
        dead = sum(int(d.sum()) for d in state.dead)
        if dead > TOMBSTONE_SHARE * max(main, RECENT_MIN) or recent > max(RECENT_MIN, RECENT_SHARE * main):
            return 0
        if len(state.segments) - 1 > MAX_RECENT_SEGMENTS:
            return 1
        return None

    def needs_maintenance(self) -> bool:
        return self._merge_plan(self._state) is not None

    def maintain(self) -> None:
        """Merge segments of the current state into one; changes made meanwhile are carried over."""
        start_state = self._state
        start = self._merge_plan(start_state)
        if start is None:
            return
        chosen = start_state.segments[start:]
        merged = Segment.merged(list(zip(chosen, start_state.dead[start:], strict=True)))
        with self._lock:
            state = self._state
            # Segments are only ever appended or replaced here, so the merged ones are still in place.
            position = {id(s): i for i, s in enumerate(state.segments)}
            indexes = [position[id(s)] for s in chosen]
            removed_since = np.concatenate([np.asarray(state.segments[i].pids)[state.dead[i]] for i in indexes]) \
                if indexes else np.empty(0, dtype=np.int64)
            merged_dead = np.isin(merged.pids, removed_since)
            keep = [i for i in range(len(state.segments)) if i not in set(indexes)]
            segments = [state.segments[i] for i in keep[:start]] + [merged] + [state.segments[i] for i in keep[start:]]
            deads = [state.dead[i] for i in keep[:start]] + [merged_dead] + [state.dead[i] for i in keep[start:]]
            self._state = LexicalState(tuple(segments), tuple(deads), state.live, state.total_length, state.version)

    # -- files ---------------------------------------------------------------------
    def save(self, directory: Path) -> dict:
        state = self._state
        folder = directory / "lexical"
        folder.mkdir(parents=True, exist_ok=True)
        for segment in state.segments:
            segment.save(folder)
        dead_name = f"dead-{uuid.uuid4().hex[:12]}.npy"
        dead_pids = np.concatenate([np.asarray(s.pids)[d] for s, d in zip(state.segments, state.dead, strict=True)]) \
            if state.segments else np.empty(0, dtype=np.int64)
        with open(folder / dead_name, "wb") as handle:
            np.save(handle, dead_pids.astype(np.int64))
            handle.flush()
            os.fsync(handle.fileno())
        return {"kind": self.kind, "version": state.version, "segments": [s.name for s in state.segments],
                "dead": dead_name, "passages": state.live,
                "files": ["lexical/" + s.name for s in state.segments] + ["lexical/" + dead_name]}

    @classmethod
    def load(cls, directory: Path, entry: dict) -> LexicalIndex:
        folder = directory / "lexical"
        segments = tuple(Segment.load(folder, name) for name in entry["segments"])
        dead_pids = np.load(folder / entry["dead"])
        dead = tuple(np.isin(np.asarray(s.pids), dead_pids) for s in segments)
        live = sum(int((~d).sum()) for d in dead)
        total = sum(int(np.asarray(s.lengths)[~d].sum()) for s, d in zip(segments, dead, strict=True))
        if not segments:
            return cls.build(np.empty(0, dtype=np.int64), [], entry["version"])
        return cls(LexicalState(segments, dead, live, total, int(entry["version"])))
