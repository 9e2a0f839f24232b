"""write_transaction (qa.index.transaction): a failed write says why it failed."""

from __future__ import annotations

import sqlite3

import pytest

from qa.index.transaction import write_transaction


def _database(path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (x BLOB)")
    return db


def test_a_full_database_raises_its_own_error_not_a_failed_rollback(tmp_path):
    db = _database(tmp_path / "full.sqlite")
    # A page limit fills the database as a full disk does: SQLite ends the transaction itself.
    db.execute("PRAGMA max_page_count = 20")
    with pytest.raises(sqlite3.OperationalError, match="^database or disk is full$"), write_transaction(db):
        db.execute("INSERT INTO t VALUES (?)", (b"x" * 500_000,))
    assert not db.in_transaction
    with write_transaction(db):  # the connection takes the next write
        db.execute("INSERT INTO t VALUES (?)", (b"small",))
    assert db.execute("SELECT x FROM t").fetchall() == [(b"small",)]


def test_an_error_in_the_block_rolls_back_what_it_wrote(tmp_path):
    db = _database(tmp_path / "store.sqlite")
    with pytest.raises(KeyError), write_transaction(db):
        db.execute("INSERT INTO t VALUES (?)", (b"lost",))
        raise KeyError("the caller's own error")
    assert not db.in_transaction
    assert db.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)
