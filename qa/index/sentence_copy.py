"""The store's sentence vectors copied into one flat file, which a request's candidates are scored from.

Scoring a search's candidates by their best sentence reads every candidate's sentence vectors. Through
SQLite each one is a lookup of its passage, a second one on the text key of the sentence vectors and
a blob spread over overflow pages. A long-running process (a server, an evaluation) copies them once as
it starts into an unnamed file beside the store, in pid order and widened to float32, and keeps where
each passage's rows begin: a request then reads a candidate's rows with one `preadv` straight into its
matrix. The file costs twice the store's float16 rows on disk. It is read, never mapped, so its
pages stay in the kernel's page cache rather than in the process's memory, and it goes with the process.

A passage's sentence vectors never change while its pid lives (pids are never reused, rows are only ever
added), so the copy stays right for every passage it holds, whatever changes later. Passages it lacks
(added since it was made, stored without sentence vectors, or asked for before the copy is done) are
read from the store as before.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.index.store_connections import in_batches

log = logging.getLogger(__name__)

# (pid, its sentence vectors as stored: float16 rows) pairs.
Blobs = Iterable[tuple[int, bytes]]


class SentenceSource(Protocol):
    """What the copy is made from: a store snapshot (qa.index.store.StoreSnapshot)."""

    def every_sentence_blob(self, model: str) -> Iterator[tuple[int, bytes]]: ...


class SentenceFile:
    """Sentence vectors of some passages in one file, as float32 (widened from the store's float16 once, not
    on every request): the rows of the passage at position i are rows starts[i]..starts[i+1]."""

    def __init__(self, file, dim: int, pids: np.ndarray, starts: np.ndarray) -> None:
        self._file = file  # kept open: the file has no name, and closing it would free it
        self._fd = file.fileno()
        self.dim = dim
        self.pids = pids  # int64, ascending
        self.starts = starts  # int64, len(pids) + 1

    @classmethod
    def write(cls, directory: Path, dim: int, blobs: Blobs) -> SentenceFile:
        """The file of these blobs (float16 rows of `dim`), given in ascending pid order."""
        file = tempfile.TemporaryFile(dir=directory, prefix="sentences-")
        pids, counts = [], []
        pending: list[bytes] = []

        def flush() -> None:
            file.write(np.frombuffer(b"".join(pending), dtype=np.float16).astype(np.float32).tobytes())
            pending.clear()

        for pid, blob in blobs:
            pids.append(pid)
            counts.append(len(blob) // (2 * dim))
            pending.append(blob[: counts[-1] * 2 * dim])
            if len(pending) >= 1024:
                flush()
        flush()
        file.flush()
        starts = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=starts[1:])
        return cls(file, dim, np.array(pids, dtype=np.int64), starts)

    def __len__(self) -> int:
        return len(self.pids)

    def held(self, pids: np.ndarray) -> np.ndarray:
        """Position of each pid in the file, -1 for those it does not hold."""
        if not len(self.pids):
            return np.full(len(pids), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.pids, pids), len(self.pids) - 1)
        return np.where(self.pids[at] == pids, at, -1)

    def read_into(self, positions: Sequence[int], out: np.ndarray) -> None:
        """The rows of the passages at these positions, one after another, into `out` (float32, as many rows)."""
        view = out.data.cast("B")  # out is a fresh C-contiguous array
        width = 4 * self.dim
        at = 0
        for position in positions:
            start, end = int(self.starts[position]), int(self.starts[position + 1])
            size = (end - start) * width
            if size and os.preadv(self._fd, [view[at : at + size]], start * width) != size:
                raise OSError(f"the copy of the sentence vectors ends early, at row {start}")
            at += size

    def close(self) -> None:
        self._file.close()


def sentence_rows(pids: Sequence[int], dim: int, copy: SentenceFile | None,
                  from_store: Callable[[list[int]], Blobs]) -> tuple[np.ndarray, np.ndarray]:
    """(pid of each row, float32 (rows, dim) vectors) of those of `pids` that have sentence vectors, each
    passage's rows together: from the copy where it holds them, else `from_store` (pids -> their blobs).

    The rows come in the order a store read gives them (each batch of pids ascending, as SQLite walks
    its rowids), so the matrix is the one the store alone gives and the cosines from it are identical.
    """
    owners: list[np.ndarray] = []
    parts: list[np.ndarray] = []
    for chunk in in_batches([int(pid) for pid in pids]):
        if copy is not None:
            chunk = sorted(set(chunk))  # as the store reads an `IN (...)` of rowids
            at = copy.held(np.array(chunk, dtype=np.int64))
            missing = [pid for pid, position in zip(chunk, at.tolist(), strict=True) if position < 0]
            if not missing:  # the usual case: every row from the copy, straight into one array
                counts = copy.starts[at + 1] - copy.starts[at]
                rows = np.empty((int(counts.sum()), dim), dtype=np.float32)
                copy.read_into(at.tolist(), rows)
                owners.append(np.repeat(np.array(chunk, dtype=np.int64), counts))
                parts.append(rows)
                continue
            stored = dict(from_store(missing))
            found: Iterable[tuple[int, bytes]] = _merged(chunk, at.tolist(), copy, stored)
        else:
            found = from_store(chunk)
        blobs = [(pid, blob) for pid, blob in found]
        owners.append(np.array([pid for pid, blob in blobs for _ in range(len(blob) // (2 * dim))], dtype=np.int64))
        parts.append(np.frombuffer(b"".join(blob for _, blob in blobs), dtype=np.float16).reshape(-1, dim)
                     .astype(np.float32))
    if not parts:
        return np.empty(0, dtype=np.int64), np.empty((0, dim), dtype=np.float32)
    return np.concatenate(owners), np.concatenate(parts) if len(parts) > 1 else parts[0]


def _merged(chunk: list[int], at: list[int], copy: SentenceFile, stored: dict[int, bytes]) -> Iterator[tuple[int, bytes]]:
    """(pid, float16 rows) of the chunk in its order: the copy's rows narrowed back, which is exact."""
    for pid, position in zip(chunk, at, strict=True):
        if position >= 0:
            rows = np.empty((int(copy.starts[position + 1] - copy.starts[position]), copy.dim), dtype=np.float32)
            copy.read_into([position], rows)
            yield pid, rows.astype(np.float16).tobytes()
        elif pid in stored:
            yield pid, stored[pid]


class SentenceCopy:
    """The copy of one collection's sentence vectors, made once in the background and then read by requests."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._file: SentenceFile | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def current(self) -> SentenceFile | None:
        """The copy, once made (None before, or where it could not be written: requests read the store)."""
        return self._file

    def start(self, snapshot: Callable[[], AbstractContextManager[SentenceSource]], model: str, dim: int,
              before: Callable[[], None] = lambda: None) -> None:
        """Make the copy of `model`'s sentence vectors as of one `snapshot()` of the store, on a thread of its
        own, once; `before` runs first on that thread."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._make, args=(snapshot, model, dim, before),
                                            name="speechqa-sentences", daemon=True)
            self._thread.start()

    def _make(self, snapshot: Callable[[], AbstractContextManager[SentenceSource]], model: str, dim: int,
              before: Callable[[], None]) -> None:
        before()
        try:
            with snapshot() as view:
                made = SentenceFile.write(self.directory, dim, view.every_sentence_blob(model))
        except OSError as exc:  # a full or read-only disk: requests go on reading the store
            log.warning("sentence vectors of %s stay in the store only (%s)", self.directory, exc)
            return
        with self._lock:
            self._file = made

    def wait(self) -> None:
        thread = self._thread
        if thread is not None:
            thread.join()

    def close(self) -> None:
        self.wait()
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
