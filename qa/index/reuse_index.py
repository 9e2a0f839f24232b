"""Which documents share wording with a text: winnowed fingerprints of every document's reuse form.

Text reuse here is a run of at least MIN_RUN characters that two texts share once both are in their
reuse form (qa.text.fingerprints: one script, one width, no punctuation or spaces). The index holds,
for every document, its reuse form and its winnowed fingerprints (hashes of GRAM characters, the
smallest of every WINDOW in a row). Since MIN_RUN = GRAM + WINDOW - 1, every run of MIN_RUN that a
text shares with a document holds a whole window, and so a fingerprint both chose at the same place
in the run: looking up the text's fingerprints finds every such document. Each fingerprint found is
then checked exactly (qa.index.reuse_match): the two reuse forms are compared outward from it until
they differ, which gives the whole shared run; a hash collision gives a short run, dropped like any
run under MIN_RUN.

A fingerprint of a stock phrase of GRAM characters or more sits in thousands of documents. Nothing
here skips it (that would lose the runs built around it); instead the check is vectorised: the
candidates of every fingerprint are compared a block of characters at a time, all at once, straight
from the memory-mapped reuse forms, and candidates on one diagonal of one document (the same offset
between text and document) are compared once, so a stock phrase costs a few array operations per
thousand documents, not a text comparison each.

Layout: a few immutable segments (qa.index.reuse_segment), as the BM25 index keeps them: adding
documents adds a segment, removing them marks tombstones, and a merge folds recent segments into the
main one and drops the tombstoned documents. A segment is a folder of .npy arrays, written under a new
name and renamed whole, then named by the collection's manifest with the store version it reflects;
loading maps the arrays into memory (np.load mmap_mode="r"), so what a process holds in its heap is
the documents' ids and pid ranges, not their texts: the pages a query touches are read in as needed
and the kernel can drop them again. Documents are known by their pid range, because the store's
change log names pids and a document's passages have consecutive pids that are never reused.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.index.indexes import held_in
from qa.index.reuse_match import candidates, shared_runs
from qa.index.reuse_segment import (
    BATCH,
    FORMAT,
    GRAM,
    MIN_RUN,
    WINDOW,
    DocumentRuns,
    IndexedDocument,
    Lengths,
    ReuseSegment,
    concat,
)
from qa.index.store_log import ChangesSince

__all__ = ["GRAM", "MIN_RUN", "WINDOW", "DocumentRuns", "IndexedDocument", "Lengths", "ReuseIndex", "ReuseReader",
           "ReuseSource", "SharedFingerprint", "catch_up_plan", "caught_up", "read_indexed_documents"]

log = logging.getLogger(__name__)
FOLDER = "reuse"
# Recent segments are folded into one when there are more than this many; into the main segment when
# they hold more than RECENT_SHARE of it (at least RECENT_MIN_DOCUMENTS) or tombstones reach TOMBSTONE_SHARE.
MAX_RECENT_SEGMENTS = 8
RECENT_MIN_DOCUMENTS = 2_000
RECENT_SHARE = 0.1
TOMBSTONE_SHARE = 0.1


@dataclass(frozen=True, eq=False)
class ReuseState:
    """The index as of one store version: segments with their tombstones. Never changed once made."""

    segments: tuple[ReuseSegment, ...]
    dead: tuple[np.ndarray, ...]  # bool per document row of each segment
    version: int
    lengths: Lengths

    @property
    def live(self) -> int:
        return sum(len(dead) - int(dead.sum()) for dead in self.dead)

    def removing(self, pids: np.ndarray, version: int) -> ReuseState:
        dead = list(self.dead)
        for i, segment in enumerate(self.segments):
            rows = segment.rows_of_pids(pids)
            if len(rows) and not dead[i][rows].all():
                dead[i] = dead[i].copy()
                dead[i][rows] = True
        return ReuseState(self.segments, tuple(dead), version, self.lengths)

    def adding(self, segment: ReuseSegment | None, version: int) -> ReuseState:
        if segment is None or not len(segment):
            return ReuseState(self.segments, self.dead, version, self.lengths)
        return ReuseState((*self.segments, segment), (*self.dead, np.zeros(len(segment), dtype=bool)), version,
                          self.lengths)


class ReuseIndex:
    """The write side: documents added and removed one change at a time (the collection serialises
    changes); ``reader()`` hands out the current immutable state from any thread."""

    kind = "reuse"

    def __init__(self, state: ReuseState) -> None:
        self._state = state
        self._lock = threading.Lock()  # orders changes against a merge being installed

    @property
    def version(self) -> int:
        return self._state.version

    @property
    def lengths(self) -> Lengths:
        return self._state.lengths

    @classmethod
    def build(cls, documents: Iterable[IndexedDocument], version: int, lengths: Lengths = Lengths()) -> ReuseIndex:
        """An index of these documents at store ``version``; other ``lengths`` than the default serve measurements."""
        segment = ReuseSegment.from_documents(documents, lengths)
        return cls(ReuseState((segment,), (np.zeros(len(segment), dtype=bool),), version, lengths))

    def add(self, documents: Sequence[IndexedDocument], version: int) -> None:
        """Index these new documents; afterwards the index reflects ``version``."""
        segment = ReuseSegment.from_documents(documents, self.lengths) if documents else None
        with self._lock:
            self._state = self._state.adding(segment, version)

    def remove(self, pids: np.ndarray, version: int) -> None:
        """Forget the documents holding these pids (unknown pids are ignored)."""
        with self._lock:
            self._state = self._state.removing(np.asarray(pids, dtype=np.int64), version)

    def count(self) -> int:
        """Documents the index holds."""
        return self._state.live

    def first_pid(self, doc_id: str) -> int | None:
        """The first pid of a document the index holds; None when it holds none by that id."""
        state = self._state
        for segment, dead in zip(state.segments, state.dead, strict=True):
            row = segment.rows.get(doc_id)
            if row is not None and not dead[row]:
                return int(segment.first_pids[row])
        return None

    def documents(self) -> dict[str, int]:
        """The first pid of each document the index holds, by doc id."""
        state = self._state
        return {segment.doc_ids[row]: int(segment.first_pids[row])
                for segment, dead in zip(state.segments, state.dead, strict=True) for row in np.flatnonzero(~dead)}

    def reader(self) -> ReuseReader:
        return ReuseReader(self._state)

    @property
    def segment_count(self) -> int:
        return len(self._state.segments)

    # -- background merging --------------------------------------------------
    def _merge_plan(self, state: ReuseState) -> int | None:
        """Index of the first segment to merge from (0: into the main one), or None when nothing is due."""
        if not state.segments:
            return None
        main = len(state.segments[0])
        recent = sum(len(s) for s in state.segments[1:])
        dead = sum(int(d.sum()) for d in state.dead)
        if dead > TOMBSTONE_SHARE * max(main, RECENT_MIN_DOCUMENTS) or recent > max(RECENT_MIN_DOCUMENTS, RECENT_SHARE * main):
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
        merged = ReuseSegment.merged(list(zip(chosen, start_state.dead[start:], strict=True)))
        with self._lock:
            state = self._state
            # Segments are only ever appended or replaced here, so the merged ones are still in place.
            position = {id(s): i for i, s in enumerate(state.segments)}
            indexes = {position[id(s)] for s in chosen}
            removed_since = concat([np.asarray(state.segments[i].first_pids)[state.dead[i]] for i in indexes], np.int64)
            merged_dead = np.isin(np.asarray(merged.first_pids), removed_since)
            keep = [i for i in range(len(state.segments)) if i not in indexes]
            segments = [state.segments[i] for i in keep[:start]] + [merged] + [state.segments[i] for i in keep[start:]]
            deads = [state.dead[i] for i in keep[:start]] + [merged_dead] + [state.dead[i] for i in keep[start:]]
            self._state = ReuseState(tuple(segments), tuple(deads), state.version, state.lengths)

    # -- files ---------------------------------------------------------------------
    def save(self, directory: Path) -> dict:
        """Write what ``load`` needs under ``directory``/reuse (new names only); returns the manifest entry."""
        state = self._state
        folder = directory / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        for segment in state.segments:
            segment.save(folder)
        dead_name = f"dead-{uuid.uuid4().hex[:12]}.npy"
        dead_pids = concat([np.asarray(s.first_pids)[d] for s, d in zip(state.segments, state.dead, strict=True)], np.int64)
        with open(folder / dead_name, "wb") as handle:
            np.save(handle, dead_pids)
            handle.flush()
            os.fsync(handle.fileno())
        lengths = state.lengths
        return {"kind": self.kind, "format": FORMAT, "min_run": lengths.min_run, "gram": lengths.gram, "window": lengths.window,
                "version": state.version, "segments": [s.name for s in state.segments], "dead": dead_name,
                "documents": state.live,
                "files": [f"{FOLDER}/{s.name}" for s in state.segments] + [f"{FOLDER}/{dead_name}"]}

    @classmethod
    def load(cls, directory: Path, entry: dict, lengths: Lengths = Lengths()) -> ReuseIndex:
        """The index a ``save`` wrote; ValueError when the entry is of another format or other lengths (rebuild it then)."""
        made_with = (entry.get("format"), entry.get("gram"), entry.get("window"))
        if made_with != (FORMAT, lengths.gram, lengths.window):
            raise ValueError(f"reuse index of format, gram and window {made_with}, not "
                             f"{(FORMAT, lengths.gram, lengths.window)}")
        folder = directory / FOLDER
        segments = tuple(ReuseSegment.load(folder, name) for name in entry["segments"])
        dead_pids = np.load(folder / entry["dead"])
        dead = tuple(np.isin(np.asarray(s.first_pids), dead_pids) for s in segments)
        return cls(ReuseState(segments, dead, int(entry["version"]), lengths))

    def files(self, entry: dict) -> set[str]:
        """Names under the collection directory that ``entry`` needs (so older ones can be deleted)."""
        return set(entry.get("files", ()))

    def stats(self) -> dict:
        state = self._state
        return {"kind": self.kind, "documents": state.live, "segments": len(state.segments), "min_run": state.lengths.min_run,
                "fingerprints": sum(len(s.hashes) for s in state.segments)}


class ReuseSource(Protocol):
    """The store reads the reuse index is built and caught up from, as of one store version."""

    version: int

    def changes_since(self, version: int) -> ChangesSince | None:
        """The pids added and removed since ``version``; None when the log no longer reaches back that far."""
        ...

    def indexed_documents(self, pids: np.ndarray | None = None) -> Iterator[IndexedDocument]:
        """The documents holding any of these pids (every document when None), with their texts."""
        ...


def read_indexed_documents(db: sqlite3.Connection, pids: np.ndarray | None = None) -> Iterator[IndexedDocument]:
    """The stored documents holding any of these pids (every document when None), with their texts and pid
    ranges, a thousand at a time: what the reuse index is built and caught up from (a store snapshot's reads)."""
    if pids is None:
        doc_ids = [row[0] for row in db.execute("SELECT doc_id FROM documents ORDER BY doc_id")]
    else:
        found: set[str] = set()
        chosen = sorted(int(p) for p in pids)
        for start in range(0, len(chosen), 500):
            part = chosen[start : start + 500]
            found.update(row[0] for row in db.execute(
                f"SELECT DISTINCT doc_id FROM passages WHERE pid IN ({','.join('?' * len(part))})", part))
        doc_ids = sorted(found)
    for start in range(0, len(doc_ids), 1000):
        part = doc_ids[start : start + 1000]
        marks = ",".join("?" * len(part))
        rows = db.execute(f"SELECT d.doc_id, d.text, MIN(p.pid), MAX(p.pid) FROM documents d JOIN passages p "
                          f"ON p.doc_id = d.doc_id WHERE d.doc_id IN ({marks}) GROUP BY d.doc_id", part)
        for doc_id, text, first, last in rows.fetchall():
            yield IndexedDocument(doc_id, text, int(first), int(last))


def catch_up_plan(current: ReuseIndex | None, directory: Path, entry: dict | None, source: ReuseSource,
                  lengths: Lengths = Lengths()) -> tuple[ReuseIndex, list[Callable[[], None]]]:
    """(index, changes to apply to it) that bring ``current``, or else the saved index ``entry`` names, to
    ``source.version`` from the store's change log; an index built from every document of the store, and no
    changes, when neither can be (missing, unreadable, another format, a log that no longer reaches back).
    The documents the changes add are read now, from ``source``; the changes are applied by the caller
    (the collection applies them where it publishes its indexes)."""
    for index in _starting_points(current, directory, entry, lengths):
        if index.version == source.version:
            return index, []
        changes = source.changes_since(index.version)
        if changes is not None:
            added = list(source.indexed_documents(changes.added)) if len(changes.added) else []
            return index, [functools.partial(index.remove, changes.removed, source.version),
                           functools.partial(index.add, added, source.version)]
    return ReuseIndex.build(source.indexed_documents(), source.version, lengths), []


def caught_up(current: ReuseIndex | None, directory: Path, entry: dict | None, source: ReuseSource,
              lengths: Lengths = Lengths()) -> ReuseIndex:
    """``catch_up_plan``'s index with its changes applied."""
    index, steps = catch_up_plan(current, directory, entry, source, lengths)
    for step in steps:
        step()
    return index


def _starting_points(current: ReuseIndex | None, directory: Path, entry: dict | None,
                     lengths: Lengths) -> Iterator[ReuseIndex]:
    if current is not None and current.lengths == lengths:
        yield current
    if entry:
        try:
            loaded = ReuseIndex.load(directory, entry, lengths)
        except (OSError, ValueError, KeyError) as exc:
            # Derived files only: whatever happened to them, the store rebuilds them.
            log.warning("could not read the reuse index of %s (%s): rebuilding it from the store", directory, exc)
            return
        if current is None or loaded.version > current.version:
            yield loaded


@dataclass(frozen=True)
class SharedFingerprint:
    """A fingerprint held by several documents: how many, and one place it is found (document, reuse-form offset)."""

    hash: int
    documents: int
    doc_id: str
    place: int


class ReuseReader:
    """The reuse index as of one version: what one request reads."""

    kind = "reuse"

    def __init__(self, state: ReuseState) -> None:
        self._state = state
        self.version = state.version
        self.lengths = state.lengths

    @property
    def min_run(self) -> int:
        """The shortest shared run this index finds every time: what counts as reuse."""
        return self.lengths.min_run

    def count(self) -> int:
        """Documents this reader holds."""
        return self._state.live

    def _usable(self, allowed: np.ndarray | None, exclude_doc: str | None) -> list[np.ndarray]:
        """Per segment, a bool per document row: live, allowed (its first pid among ``allowed``), not excluded."""
        out = []
        for segment, dead in zip(self._state.segments, self._state.dead, strict=True):
            usable = ~dead
            if allowed is not None:
                usable &= held_in(allowed, np.asarray(segment.first_pids))
            row = segment.rows.get(exclude_doc) if exclude_doc else None
            if row is not None:
                usable[row] = False
            out.append(usable)
        return out

    def matches(self, codes: np.ndarray, allowed: np.ndarray | None = None,
                exclude_doc: str | None = None) -> list[DocumentRuns]:
        """Every document sharing a run of at least ``min_run`` with a text given by its reuse form.

        Args:
            codes: qa.text.fingerprints.reuse_codes of the text.
            allowed: sorted pids; only documents whose passages are among them (None: every document).
            exclude_doc: leave this document out (the one the text comes from).
        Returns:
            One DocumentRuns per document, in index order (the caller orders them by date).
        """
        codes = np.asarray(codes, dtype=np.uint32)
        hashes, starts = self.lengths.fingerprints(codes)
        out: list[DocumentRuns] = []
        if not len(hashes):
            return out
        for segment, usable in zip(self._state.segments, self._usable(allowed, exclude_doc), strict=True):
            query_at, postings = candidates(segment, usable, hashes, starts)
            if not len(postings):
                continue
            owners, text_starts, doc_starts, lengths = shared_runs(codes, segment, query_at, postings)
            kept = lengths >= self.min_run
            if not kept.any():
                continue
            owners, text_starts, doc_starts, lengths = owners[kept], text_starts[kept], doc_starts[kept], lengths[kept]
            order = np.lexsort((doc_starts, text_starts, owners))
            owners = owners[order]
            runs = np.stack([text_starts, doc_starts, lengths], axis=1)[order]
            bounds = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1], True])
            for begin, end in zip(bounds[:-1], bounds[1:], strict=True):
                row = int(owners[begin])
                out.append(DocumentRuns(segment.doc_ids[row], int(segment.first_pids[row]), runs[begin:end]))
        return out

    def has_reuse(self, codes: np.ndarray, exclude_doc: str | None = None) -> bool:
        """Whether any document but ``exclude_doc`` shares a run of at least ``min_run`` with the text.

        Fingerprints held by few documents are checked first, and the check stops at the first run found,
        so a passage with reuse answers after a handful of comparisons.
        """
        codes = np.asarray(codes, dtype=np.uint32)
        hashes, starts = self.lengths.fingerprints(codes)
        if not len(hashes):
            return False
        for segment, usable in zip(self._state.segments, self._usable(None, exclude_doc), strict=True):
            query_at, postings = candidates(segment, usable, hashes, starts)
            if not len(postings):
                continue
            which = np.searchsorted(starts, query_at)  # the fingerprint of the text each candidate came from
            order = np.argsort(np.bincount(which, minlength=len(hashes))[which], kind="stable")
            begin, size = 0, 64
            while begin < len(order):
                chosen = order[begin : begin + size]
                if (shared_runs(codes, segment, query_at[chosen], postings[chosen])[3] >= self.min_run).any():
                    return True
                begin, size = begin + size, min(BATCH, size * 4)
        return False

    def shared_fingerprints(self, allowed: np.ndarray | None = None, at_least: int = 2) -> list[SharedFingerprint]:
        """The fingerprints held by at least ``at_least`` of the allowed documents, most documents first, each
        placed in the holder of the smallest doc id: the same list whatever order the documents were indexed in
        (by pid, consecutive in the embedded store, hashed on Milvus).

        What the collection's most reused passages are looked for among (qa.search.reuse_top).
        """
        hashes, counts, where = [], [], []
        holders: list[tuple[ReuseSegment, np.ndarray]] = []  # each hash's chosen holder, by row, per segment
        for index, (segment, usable) in enumerate(zip(self._state.segments, self._usable(allowed, None), strict=True)):
            owners = np.asarray(segment.owners)
            kept = np.flatnonzero(usable[owners])
            if not len(kept):
                continue
            found, found_owners = np.asarray(segment.hashes)[kept], owners[kept]
            # Sorted by hash, then place: one document's copies of a hash lie together and count once.
            once = np.r_[True, (found[1:] != found[:-1]) | (found_owners[1:] != found_owners[:-1])]
            kept, found, found_owners = kept[once], found[once], found_owners[once]
            first = np.flatnonzero(np.r_[True, found[1:] != found[:-1]])
            sizes = np.diff(np.r_[first, len(found)])
            # Each holder once per hash: the holder of the smallest doc id is the one whose rank is its group's least.
            ranks = segment.doc_id_ranks[found_owners]
            least = ranks == np.repeat(np.minimum.reduceat(ranks, first), sizes)
            chosen = kept[least]
            hashes.append(found[first])
            counts.append(sizes)
            where.append(np.stack([np.full(len(first), index), chosen], axis=1))
            holders.append((segment, found_owners[least]))
        if not hashes:
            return []
        all_hashes, all_counts, all_where = np.concatenate(hashes), np.concatenate(counts), np.concatenate(where)
        if len(hashes) > 1:  # a hash in several segments: their documents add up, the smallest doc id places it
            all_names = np.concatenate([np.asarray(segment.doc_ids, dtype=str)[rows] for segment, rows in holders])
            order = np.lexsort((all_names, all_hashes))
            all_hashes, all_counts, all_where = all_hashes[order], all_counts[order], all_where[order]
            first = np.flatnonzero(np.r_[True, all_hashes[1:] != all_hashes[:-1]])
            all_hashes, all_counts, all_where = all_hashes[first], np.add.reduceat(all_counts, first), all_where[first]
        chosen = np.flatnonzero(all_counts >= at_least)
        chosen = chosen[np.lexsort((all_hashes[chosen], -all_counts[chosen]))]
        out = []
        for i in chosen:
            segment = self._state.segments[int(all_where[i, 0])]
            posting = int(all_where[i, 1])
            row = int(segment.owners[posting])
            out.append(SharedFingerprint(int(all_hashes[i]), int(all_counts[i]), segment.doc_ids[row],
                                         int(segment.places[posting]) - int(segment.starts[row])))
        return out
