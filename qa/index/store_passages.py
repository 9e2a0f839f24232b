"""Passages in the store: by pid, by document, by filter, as written (embed hash and BM25 tokens)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from qa.index.store_connections import StoreConnections, in_batches, marks
from qa.index.store_documents import filter_clauses
from qa.types import Passage, PassageFilter

PASSAGE_COLUMNS = "chunk_id, doc_id, ordinal, text, char_start, char_end, section"


@dataclass(frozen=True)
class StoredPassage:
    """A passage ready to be written: its record, the hash of the text the model embeds, its BM25 tokens."""

    passage: Passage
    embed_hash: str
    tokens: str  # space-joined lexical tokens


def insert_passages(db: sqlite3.Connection, pids: Sequence[int], stored: Sequence[StoredPassage]) -> None:
    """These passages under these pids, inside the write's transaction."""
    db.executemany(
        f"INSERT INTO passages(pid, {PASSAGE_COLUMNS}, embed_hash, tokens) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [
            (
                pid, s.passage.chunk_id, s.passage.doc_id, s.passage.ordinal, s.passage.text,
                s.passage.char_start, s.passage.char_end, s.passage.section, s.embed_hash, s.tokens,
            )
            for pid, s in zip(pids, stored, strict=True)
        ],
    )


def read_filtered_pids(db: sqlite3.Connection, where: PassageFilter) -> np.ndarray:
    """Sorted pids of the passages `where` allows."""
    clauses, params = filter_clauses(where)
    sql = "SELECT p.pid FROM passages p JOIN documents d ON d.doc_id = p.doc_id"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    return np.sort(np.fromiter((row[0] for row in db.execute(sql, params)), dtype=np.int64))


def read_passages(db: sqlite3.Connection, pids: Sequence[int]) -> dict[int, Passage]:
    out: dict[int, Passage] = {}
    for chunk in in_batches([int(p) for p in pids]):
        for row in db.execute(f"SELECT pid, {PASSAGE_COLUMNS} FROM passages WHERE pid IN ({marks(chunk)})", chunk):
            out[row[0]] = Passage(*row[1:])
    return out


def read_passage_tokens(db: sqlite3.Connection, pids: np.ndarray | None = None) -> tuple[np.ndarray, list[list[str]]]:
    """(pids, token lists) of these passages (every passage when None), in pid order."""
    if pids is None:
        rows = db.execute("SELECT pid, tokens FROM passages ORDER BY pid").fetchall()
    else:
        rows = []
        for chunk in in_batches([int(p) for p in pids]):
            rows.extend(db.execute(f"SELECT pid, tokens FROM passages WHERE pid IN ({marks(chunk)})", chunk))
        rows.sort()
    return (np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)),
            [row[1].split(" ") if row[1] else [] for row in rows])


class PassageRecords(StoreConnections):
    def count_passages(self) -> int:
        return self._reader().execute("SELECT COUNT(*) FROM passages").fetchone()[0]

    def passage_texts_of(self, doc_id: str) -> list[tuple[int, str]]:
        """(pid, text) of a document's passages, in order."""
        return self._reader().execute("SELECT pid, text FROM passages WHERE doc_id = ? ORDER BY ordinal", (doc_id,)).fetchall()

    def stored_passages(self, doc_ids: Sequence[str]) -> dict[str, list[StoredPassage]]:
        """These documents' passages as they were written (with embed hash and BM25 tokens), in order."""
        out: dict[str, list[StoredPassage]] = {}
        for chunk in in_batches(list(doc_ids)):
            for row in self._reader().execute(
                f"SELECT {PASSAGE_COLUMNS}, embed_hash, tokens FROM passages "
                f"WHERE doc_id IN ({marks(chunk)}) ORDER BY doc_id, ordinal", chunk):
                out.setdefault(row[1], []).append(StoredPassage(Passage(*row[:7]), row[7], row[8]))
        return out

    def passages_of(self, doc_id: str) -> list[Passage]:
        rows = self._reader().execute(
            f"SELECT {PASSAGE_COLUMNS} FROM passages WHERE doc_id = ? ORDER BY ordinal", (doc_id,)).fetchall()
        return [Passage(*row) for row in rows]

    def passages_by_pid(self, pids: Sequence[int]) -> dict[int, Passage]:
        return read_passages(self._reader(), pids)

    def pid_of_chunk(self, chunk_id: str) -> int | None:
        row = self._reader().execute("SELECT pid FROM passages WHERE chunk_id = ?", (chunk_id,)).fetchone()
        return row[0] if row else None

    def iter_passage_tokens(self) -> Iterator[tuple[int, str]]:
        yield from self._db.execute("SELECT pid, tokens FROM passages ORDER BY pid")

    def filtered_pids(self, where: PassageFilter) -> np.ndarray:
        return read_filtered_pids(self._reader(), where)
