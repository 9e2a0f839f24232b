"""write_transaction (qa.index.transaction): a failed write says why it failed."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from qa.errors import DiskFullError
from qa.index.transaction import disk_writes, write_transaction


def _database(path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (x BLOB)")
    return db


def test_a_full_database_says_so_rather_than_that_a_rollback_failed(tmp_path):
    db = _database(tmp_path / "full.sqlite")
    # A page limit fills the database as a full disk does: SQLite ends the transaction itself.
    db.execute("PRAGMA max_page_count = 20")
    with pytest.raises(DiskFullError) as raised, write_transaction(db):
        db.execute("INSERT INTO t VALUES (?)", (b"x" * 500_000,))
    assert str(raised.value) == (f"the disk holding the collection is full ({tmp_path / 'full.sqlite'}): nothing was "
                                 "changed; free some space on it and try again (searches go on meanwhile)")
    assert str(raised.value.__cause__) == "database or disk is full"
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


def test_a_file_write_that_finds_no_space_is_a_disk_full_error(tmp_path):
    with pytest.raises(DiskFullError, match="^the disk holding the collection is full"), disk_writes(tmp_path):
        raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(PermissionError), disk_writes(tmp_path):  # any other failure is itself
        raise PermissionError(errno.EACCES, "Permission denied")
