"""The SQLite connections a store reads and writes through: one writer, a reader per thread, pooled snapshots."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

# Ids bound into one `IN (...)` at most: well under SQLite's limit on a statement's parameters.
BATCH = 500
# The page cache of each reading connection, in KiB. A server holds one such connection for every request
# it has run at once and every worker thread, each filling its cache; pages beyond it are read again from
# the kernel's page cache, which all of them share.
READ_CACHE_KIB = 512


def in_batches(items: list, size: int = BATCH) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(items: list) -> str:
    """The placeholders of an `IN (...)` over these items."""
    return ",".join("?" * len(items))


class StoreConnections:
    """Every part of the store reads and writes through these: `_db` writes (and reads what a write
    depends on), `_reader()` reads what a caller asks, `_snapshot()` reads as of one version."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # check_same_thread=False: the web server reads from worker threads; SQLite serialises access itself.
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        # Searches read through one connection per thread: on the shared connection SQLite's mutex
        # made concurrent requests queue for each other (scripts/bench.py --api-collection measures 8 clients).
        # WAL lets these readers run beside the writer and see each committed transaction.
        self._readers = threading.local()
        self._reader_connections: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._idle_snapshots: list[sqlite3.Connection] = []

    def close(self) -> None:
        with self._reader_lock:
            for connection in self._reader_connections + self._idle_snapshots:
                connection.close()
            self._reader_connections.clear()
            self._idle_snapshots.clear()
        self._db.close()

    def _connect_read_only(self) -> sqlite3.Connection:
        connection = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False,
                                     isolation_level=None, timeout=30)
        connection.execute(f"PRAGMA cache_size=-{READ_CACHE_KIB}")
        return connection

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A connection reading as of one committed version until the block ends (an SQLite read
        transaction, which WAL keeps); connections are reused from one snapshot to the next."""
        with self._reader_lock:
            connection = self._idle_snapshots.pop() if self._idle_snapshots else None
        if connection is None:
            connection = self._connect_read_only()
        try:
            connection.execute("BEGIN")
            yield connection
        finally:
            connection.execute("ROLLBACK")
            with self._reader_lock:
                self._idle_snapshots.append(connection)

    def _reader(self) -> sqlite3.Connection:
        """This thread's read-only connection (opened on first use); writes stay on self._db."""
        connection = getattr(self._readers, "connection", None)
        if connection is None:
            connection = self._connect_read_only()
            self._readers.connection = connection
            with self._reader_lock:
                self._reader_connections.append(connection)
        return connection
