"""The one way the store and its phrase index write to SQLite, and how a full disk is told apart."""

from __future__ import annotations

import contextlib
import errno
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from qa.errors import DiskFullError

DISK_FULL = "the disk holding the collection is full"


def is_disk_full(exc: BaseException) -> bool:
    """Whether an error is a write that found no space (SQLite says SQLITE_FULL, the OS ENOSPC or EDQUOT)."""
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def disk_full_error(where: Path | str) -> DiskFullError:
    return DiskFullError(f"{DISK_FULL} ({where}): nothing was changed; free some space on it and try again "
                         "(searches go on meanwhile)")


@contextlib.contextmanager
def disk_writes(where: Path | str) -> Iterator[None]:
    """Writes of files under `where`: one that finds the disk full raises DiskFullError, which says so."""
    try:
        yield
    except (OSError, sqlite3.Error) as exc:
        if is_disk_full(exc):
            raise disk_full_error(where) from exc
        raise


@contextlib.contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One transaction around the block: committed when it ends, rolled back when it raises (Ctrl-C too).

    BEGIN IMMEDIATE takes SQLite's write lock at the start, so a writer waits for another before it
    reads what it is about to change, never after. `db` must be in autocommit mode (isolation_level=None).
    A write that finds the disk full raises DiskFullError.
    """
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            # SQLite ends the transaction itself when a write fails on a full disk or an I/O error; a ROLLBACK
            # then raises "cannot rollback - no transaction is active" in place of the error that says what happened.
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        if is_disk_full(exc):
            raise disk_full_error(_database_file(db)) from exc
        raise


def _database_file(db: sqlite3.Connection) -> str:
    with contextlib.suppress(sqlite3.Error):
        for _, name, file in db.execute("PRAGMA database_list"):
            if name == "main" and file:
                return file
    return "the collection's store"
