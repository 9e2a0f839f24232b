"""The store's meta table, its version and the change log: which passages each version added or removed."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from qa.index.store_connections import StoreConnections
from qa.index.transaction import write_transaction


@dataclass(frozen=True)
class StoreChange:
    """What one committed write did to the passages: the version it made, the pids it added and removed."""

    version: int
    added: np.ndarray  # int64, in the order of the written passages
    removed: np.ndarray  # int64, sorted
    # Documents of an addition that the store held already (another writer's), each with whether one of its
    # sources was new to the stored document: their passages were not written again.
    already_stored: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class ChangesSince:
    """The net change of the passages between two versions (from the change log)."""

    since: int
    version: int
    added: np.ndarray  # int64 pids added since and still present, sorted
    removed: np.ndarray  # int64 pids present at `since` and removed since, sorted


def read_version(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT value FROM meta WHERE key = 'passages_version'").fetchone()
    return int(row[0]) if row else 0


def log_changes(db: sqlite3.Connection, version: int, pids: Iterable[int], added: bool) -> None:
    """Record, inside the write's transaction, that `version` added (or removed) these passages."""
    db.executemany("INSERT INTO changes(version, pid, added) VALUES (?,?,?)",
                   [(version, int(pid), int(added)) for pid in pids])


def read_changes_since(db: sqlite3.Connection, version: int, since: int) -> ChangesSince | None:
    """The net change from `since` to `version` (the one `db` reads), or None when the log no longer
    reaches back that far."""
    row = db.execute("SELECT value FROM meta WHERE key = 'log_from'").fetchone()
    if since > version or row is None or since < int(row[0]):
        return None
    added, removed = set(), set()
    for pid, was_added in db.execute("SELECT pid, added FROM changes WHERE version > ? ORDER BY version", (since,)):
        if was_added:
            added.add(pid)
        elif pid in added:
            added.discard(pid)  # came and went within the span: the older state never held it
        else:
            removed.add(pid)
    return ChangesSince(since, version, np.array(sorted(added), dtype=np.int64), np.array(sorted(removed), dtype=np.int64))


class ChangeLog(StoreConnections):
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def version(self) -> int:
        """Bumped by every change of passages; derived indexes record the version they were built at."""
        return int(self.get_meta("passages_version") or 0)

    def _bump_version(self) -> int:
        """The next version, inside the transaction of the write that makes it."""
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES ('passages_version', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )
        return self.version

    def changes_since(self, version: int) -> ChangesSince | None:
        """The net change since `version`, or None when the log no longer reaches back that far."""
        with self._snapshot() as db:
            return read_changes_since(db, read_version(db), version)

    def forget_changes(self, upto: int) -> None:
        """Drop the log up to version `upto` (every index has saved a state at least that recent)."""
        if upto <= int(self.get_meta("log_from") or 0):
            return
        with write_transaction(self._db) as db:
            db.execute("DELETE FROM changes WHERE version <= ?", (upto,))
            self.set_meta("log_from", str(upto))
