"""The one way the store and its phrase index write to SQLite."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator


@contextlib.contextmanager
def write_transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One transaction around the block: committed when it ends, rolled back when it raises (Ctrl-C too).

    BEGIN IMMEDIATE takes SQLite's write lock at the start, so a writer waits for another before it
    reads what it is about to change, never after. `db` must be in autocommit mode (isolation_level=None).
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.execute("COMMIT")
    except BaseException:
        # SQLite ends the transaction itself when a COMMIT fails on a full disk or an I/O error; a ROLLBACK
        # then raises "cannot rollback - no transaction is active" in place of the error that says what happened.
        if db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
        raise
