"""The name pairs each stored document states (qa.text.name_pairs), and what the collection's documents state together.

A document's pairs live and die with it (its rows go when it does), so the counts over the
collection follow documents as they come and go, and `speechqa reindex` re-harvests them.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable

from qa.index.store_connections import StoreConnections
from qa.text.name_pairs import NamePair

SCHEMA = """
CREATE TABLE IF NOT EXISTS name_pairs (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    chinese TEXT NOT NULL,
    english TEXT NOT NULL,
    stated INTEGER NOT NULL,  -- how many times the document states the pair
    PRIMARY KEY (doc_id, chinese, english)
) WITHOUT ROWID;
"""


def insert_name_pairs(db: sqlite3.Connection, doc_id: str, pairs: Iterable[NamePair]) -> None:
    """A document's pairs (each as often as it states it), inside the write's transaction."""
    counted = Counter(pairs)
    db.executemany("INSERT INTO name_pairs(doc_id, chinese, english, stated) VALUES (?,?,?,?)",
                   [(doc_id, pair.chinese, pair.english, n) for pair, n in counted.items()])


def replace_name_pairs(db: sqlite3.Connection, doc_id: str, pairs: Iterable[NamePair]) -> None:
    db.execute("DELETE FROM name_pairs WHERE doc_id = ?", (doc_id,))
    insert_name_pairs(db, doc_id, pairs)


def read_name_pair_counts(db: sqlite3.Connection) -> dict[NamePair, int]:
    rows = db.execute("SELECT chinese, english, SUM(stated) FROM name_pairs GROUP BY chinese, english")
    return {NamePair(chinese, english): int(stated) for chinese, english, stated in rows}


class NameRecords(StoreConnections):
    def name_pair_counts(self) -> dict[NamePair, int]:
        """How often the stored documents state each name pair, all of them together."""
        return read_name_pair_counts(self._reader())

    def name_pairs_of(self, doc_id: str) -> list[NamePair]:
        """The pairs one document states, each as often as it states it."""
        rows = self._reader().execute("SELECT chinese, english, stated FROM name_pairs WHERE doc_id = ? "
                                      "ORDER BY chinese, english", (doc_id,))
        return [NamePair(chinese, english) for chinese, english, stated in rows for _ in range(stated)]
