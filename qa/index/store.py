"""SQLite store of documents, their sources, passages and the embedding cache.

SQLite is the source of truth of a collection: the FAISS and BM25 files beside it
are derived and are rebuilt from it whenever their recorded version lags behind
(after a crash, say). Every write is one transaction holding whole documents.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload

import numpy as np

from qa.index import phrase_index
from qa.index.transaction import write_transaction
from qa.types import Document, DocumentSummary, Metadata, Passage, PassageFilter


def title_key(title: str) -> str:
    """Where a document title's vector is kept in the embeddings table ("t-" keeps it apart from the
    passages' text hashes). Documents of one title share it."""
    return "t-" + hashlib.sha1(title.encode("utf-8")).hexdigest()


def _title_vectors(db: sqlite3.Connection, model: str, titles: Iterable[str]) -> dict[str, np.ndarray]:
    by_key = {title_key(title): title for title in titles}
    out: dict[str, np.ndarray] = {}
    for chunk in _batches(list(by_key), 500):
        for key, blob in db.execute(
            f"SELECT embed_hash, vector FROM embeddings WHERE model = ? AND embed_hash IN ({','.join('?' * len(chunk))})",
            [model, *chunk],
        ):
            out[by_key[key]] = np.frombuffer(blob, dtype=np.float32)
    return out

# 2: a change log (which pids each version added or removed) and pids that are never reused.
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL UNIQUE,
    title TEXT, date TEXT, date_kind TEXT, speaker TEXT, place TEXT,
    script TEXT NOT NULL,
    text TEXT NOT NULL,
    shingles BLOB,
    added_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_date ON documents(date);
CREATE INDEX IF NOT EXISTS documents_speaker ON documents(speaker);
CREATE TABLE IF NOT EXISTS sources (
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (doc_id, source)
);
CREATE INDEX IF NOT EXISTS sources_source ON sources(source);
CREATE TABLE IF NOT EXISTS passages (
    pid INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    char_start INTEGER NOT NULL,
    char_end INTEGER NOT NULL,
    section TEXT,
    embed_hash TEXT NOT NULL,
    tokens TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id, ordinal);
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    embed_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, embed_hash)
) WITHOUT ROWID;
-- The vectors of a passage's sentences (float16, one row a sentence), which score its candidacy;
-- passages stored before them have none and are scored by their passage vector.
-- A rowid table: its rows are too large for a WITHOUT ROWID b-tree, where every lookup would walk them.
CREATE TABLE IF NOT EXISTS sentence_vectors (
    model TEXT NOT NULL,
    embed_hash TEXT NOT NULL,
    vectors BLOB NOT NULL,
    UNIQUE (model, embed_hash)
);
CREATE TABLE IF NOT EXISTS changes (
    version INTEGER NOT NULL,
    pid INTEGER NOT NULL,
    added INTEGER NOT NULL  -- 1: the version added the passage, 0: it removed it
);
CREATE INDEX IF NOT EXISTS changes_version ON changes(version);
"""


@dataclass(frozen=True)
class StoredPassage:
    """A passage ready to be written: its record, the hash of the text the model embeds, its BM25 tokens."""

    passage: Passage
    embed_hash: str
    tokens: str  # space-joined lexical tokens


@dataclass(frozen=True)
class StoreChange:
    """What one committed write did to the passages: the version it made, the pids it added and removed."""

    version: int
    added: np.ndarray  # int64, in the order of the written passages
    removed: np.ndarray  # int64, sorted


@dataclass(frozen=True)
class ChangesSince:
    """The net change of the passages between two versions (from the change log)."""

    since: int
    version: int
    added: np.ndarray  # int64 pids added since and still present, sorted
    removed: np.ndarray  # int64 pids present at `since` and removed since, sorted


class PassageStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        # check_same_thread=False: the web server reads from worker threads; SQLite serialises access itself.
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        phrase_index.create_schema(self._db)
        self._migrate()
        # Searches read through one connection per thread: on the shared connection SQLite's mutex
        # made concurrent requests queue for each other (scripts/bench.py --api-collection measures 8 clients).
        # WAL lets these readers run beside the writer and see each committed transaction.
        self._readers = threading.local()
        self._reader_connections: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._idle_snapshots: list[sqlite3.Connection] = []

    def _migrate(self) -> None:
        """Bring an older store to this schema: pids are then handed out from a counter that only grows."""
        found = self.get_meta("schema_version")
        if found == str(SCHEMA_VERSION):
            return
        top = self._db.execute("SELECT COALESCE(MAX(pid), 0) FROM passages").fetchone()[0]
        self.set_meta("next_pid", str(top + 1))
        # A store without a log (new, or written by the previous version) has logged every change since now.
        self.set_meta("log_from", str(self.version))
        self.set_meta("schema_version", str(SCHEMA_VERSION))

    def close(self) -> None:
        with self._reader_lock:
            for connection in self._reader_connections + self._idle_snapshots:
                connection.close()
            self._reader_connections.clear()
            self._idle_snapshots.clear()
        self._db.close()

    def _connect_read_only(self) -> sqlite3.Connection:
        return sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False,
                               isolation_level=None, timeout=30)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[StoreSnapshot]:
        """Reads as of one committed version until the block ends (an SQLite read transaction, WAL keeps it)."""
        with self._reader_lock:
            connection = self._idle_snapshots.pop() if self._idle_snapshots else None
        if connection is None:
            connection = self._connect_read_only()
        try:
            connection.execute("BEGIN")
            row = connection.execute("SELECT value FROM meta WHERE key = 'passages_version'").fetchone()
            yield StoreSnapshot(connection, int(row[0]) if row else 0)
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

    # -- meta -------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    @property
    def version(self) -> int:
        """Bumped by every change of passages; derived indexes record the version they were built at."""
        return int(self.get_meta("passages_version") or 0)

    # -- writes -----------------------------------------------------------
    def add_documents(
        self,
        items: Sequence[tuple[Document, Sequence[StoredPassage], bytes | None]],
        vectors: dict[str, np.ndarray],
        model: str,
        sentence_vectors: dict[str, np.ndarray] | None = None,
    ) -> StoreChange:
        """Write whole documents with their passages and new vectors (and sentence vectors) in one transaction.

        Returns the change: the new version and the pids given to the passages, in the order of `items`.
        """
        with write_transaction(self._db) as db:
            next_pid = int(self.get_meta("next_pid") or 1)
            added: list[int] = []
            for document, stored, shingles in items:
                meta = document.metadata
                db.execute(
                    "INSERT INTO documents(doc_id, content_hash, title, date, date_kind, speaker, place, script, text,"
                    " shingles, added_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        document.doc_id, document.content_hash, meta.title, meta.date, meta.date_kind,
                        meta.speaker, meta.place, document.script, document.text, shingles, time.time(),
                    ),
                )
                db.executemany(
                    "INSERT OR IGNORE INTO sources(doc_id, source, position) VALUES (?,?,?)",
                    [(document.doc_id, source, i) for i, source in enumerate(document.sources)],
                )
                phrase_index.add_document(db, document.doc_id, document.text)
                pids = list(range(next_pid, next_pid + len(stored)))
                next_pid += len(stored)
                added.extend(pids)
                db.executemany(
                    "INSERT INTO passages(pid, chunk_id, doc_id, ordinal, text, char_start, char_end, section, embed_hash,"
                    " tokens) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            pid, s.passage.chunk_id, s.passage.doc_id, s.passage.ordinal, s.passage.text,
                            s.passage.char_start, s.passage.char_end, s.passage.section, s.embed_hash, s.tokens,
                        )
                        for pid, s in zip(pids, stored, strict=True)
                    ],
                )
            self.set_meta("next_pid", str(next_pid))
            self._put_vectors(model, vectors)
            self._put_sentence_vectors(model, sentence_vectors or {})
            version = self._bump_version()
            db.executemany("INSERT INTO changes(version, pid, added) VALUES (?,?,1)", [(version, pid) for pid in added])
        return StoreChange(version, np.array(added, dtype=np.int64), np.empty(0, dtype=np.int64))

    def add_source(self, doc_id: str, source: str) -> bool:
        """Record one more source of a document; False when it was already known."""
        position = self._db.execute("SELECT COUNT(*) FROM sources WHERE doc_id = ?", (doc_id,)).fetchone()[0]
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO sources(doc_id, source, position) VALUES (?,?,?)", (doc_id, source, position)
        )
        return cursor.rowcount > 0

    def remove_document(self, doc_id: str) -> StoreChange | None:
        """Delete a document with its passages and sources; None when there is no such document."""
        with write_transaction(self._db) as db:
            phrase_index.remove_document(db, doc_id)
            removed = np.fromiter((row[0] for row in db.execute("SELECT pid FROM passages WHERE doc_id = ? ORDER BY pid",
                                                                (doc_id,))), dtype=np.int64)
            cursor = db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,))
            change = None
            if cursor.rowcount:
                version = self._bump_version()
                db.executemany("INSERT INTO changes(version, pid, added) VALUES (?,?,0)",
                               [(version, int(pid)) for pid in removed])
                change = StoreChange(version, np.empty(0, dtype=np.int64), removed)
        return change

    def refresh_derived(self, updates: Sequence[tuple[str, Metadata, dict[int, str]]]) -> int:
        """Rewrite what ingest derives from a stored document (its metadata, its passages' BM25 words),
        for collections built by an older speechqa; one transaction, then the indexes are rebuilt.

        Args:
            updates: (doc_id, metadata, {pid: space-joined tokens}) per document.
        Returns:
            The new store version.
        """
        with write_transaction(self._db) as db:
            for doc_id, meta, tokens in updates:
                db.execute("UPDATE documents SET title = ?, date = ?, date_kind = ?, speaker = ?, place = ? WHERE doc_id = ?",
                           (meta.title, meta.date, meta.date_kind, meta.speaker, meta.place, doc_id))
                db.executemany("UPDATE passages SET tokens = ? WHERE pid = ?", [(t, pid) for pid, t in tokens.items()])
            version = self._bump_version()
        return version

    def changes_since(self, version: int) -> ChangesSince | None:
        """The net change since `version`, or None when the log no longer reaches back that far."""
        with self.snapshot() as view:
            return view.changes_since(version)

    def forget_changes(self, upto: int) -> None:
        """Drop the log up to version `upto` (every index has saved a state at least that recent)."""
        if upto <= int(self.get_meta("log_from") or 0):
            return
        with write_transaction(self._db) as db:
            db.execute("DELETE FROM changes WHERE version <= ?", (upto,))
            self.set_meta("log_from", str(upto))

    def put_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        with write_transaction(self._db):
            self._put_vectors(model, vectors)
            self._bump_version()

    def _put_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO embeddings(model, embed_hash, vector) VALUES (?,?,?)",
            [(model, key, np.asarray(vec, dtype=np.float32).tobytes()) for key, vec in vectors.items()],
        )

    def put_title_vectors(self, model: str, vectors: Mapping[str, np.ndarray]) -> None:
        """Vectors of document titles; no index holds them, so the store version stays."""
        with write_transaction(self._db):
            self._put_vectors(model, {title_key(title): vector for title, vector in vectors.items()})

    def title_vectors(self, model: str, titles: Iterable[str]) -> dict[str, np.ndarray]:
        """The vectors of those of `titles` that have one for `model`."""
        return _title_vectors(self._reader(), model, titles)

    def titles_without_vectors(self, model: str, titles: Iterable[str] | None = None) -> list[str]:
        """Those of `titles` (default: every document's) the model has no vector for, each once."""
        if titles is None:
            titles = [row[0] for row in self._reader().execute("SELECT DISTINCT title FROM documents WHERE title != ''")]
        wanted = list(dict.fromkeys(title for title in titles if title))
        known = _title_vectors(self._reader(), model, wanted)
        return [title for title in wanted if title not in known]

    def put_sentence_vectors(self, model: str, sentence_vectors: dict[str, np.ndarray]) -> None:
        with write_transaction(self._db):
            self._put_sentence_vectors(model, sentence_vectors)

    def _put_sentence_vectors(self, model: str, sentence_vectors: dict[str, np.ndarray]) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO sentence_vectors(model, embed_hash, vectors) VALUES (?,?,?)",
            [(model, key, np.asarray(rows, dtype=np.float16).tobytes()) for key, rows in sentence_vectors.items()],
        )

    def _bump_version(self) -> int:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES ('passages_version', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )
        return self.version

    # -- documents --------------------------------------------------------
    def find_by_hash(self, content_hash: str) -> str | None:
        row = self._db.execute("SELECT doc_id FROM documents WHERE content_hash = ?", (content_hash,)).fetchone()
        return row[0] if row else None

    def iter_shingles(self) -> Iterator[tuple[str, bytes]]:
        yield from self._db.execute("SELECT doc_id, shingles FROM documents WHERE shingles IS NOT NULL")

    def count_documents(self) -> int:
        return self._reader().execute("SELECT COUNT(*) FROM documents").fetchone()[0]

    def count_passages(self) -> int:
        return self._reader().execute("SELECT COUNT(*) FROM passages").fetchone()[0]

    def speakers(self) -> frozenset[str]:
        """Every speaker some document names (what a query naming a person is matched against)."""
        rows = self._reader().execute("SELECT DISTINCT speaker FROM documents WHERE speaker IS NOT NULL")
        return frozenset(row[0] for row in rows)

    def get_document(self, doc_id: str) -> Document | None:
        """One document with its text; None when there is no such document."""
        return self.get_documents([doc_id], with_text=True).get(doc_id)

    @overload
    def get_documents(self, doc_ids: Iterable[str], with_text: Literal[True]) -> dict[str, Document]: ...

    @overload
    def get_documents(self, doc_ids: Iterable[str], with_text: Literal[False] = False) -> dict[str, DocumentSummary]: ...

    def get_documents(self, doc_ids: Iterable[str], with_text: bool = False) -> Mapping[str, DocumentSummary]:
        """These documents by id (unknown ids left out): summaries, or with `with_text` whole documents."""
        return _get_documents(self._reader(), doc_ids, with_text)

    def list_documents(self, offset: int = 0, limit: int = 50) -> list[tuple[DocumentSummary, int]]:
        rows = self._reader().execute(
            f"SELECT {_SUMMARY_COLUMNS}, (SELECT COUNT(*) FROM passages p WHERE p.doc_id = d.doc_id) "
            "FROM documents d ORDER BY d.date IS NULL, d.date DESC, d.title, d.doc_id LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        sources = self._sources_of([row[0] for row in rows])
        return [(_summary_from_row(row[:-1], sources.get(row[0], ())), row[-1]) for row in rows]

    def _sources_of(self, doc_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        return _sources_of(self._reader(), doc_ids)

    # -- passages ---------------------------------------------------------
    def passage_texts_of(self, doc_id: str) -> list[tuple[int, str]]:
        """(pid, text) of a document's passages, in order."""
        return self._reader().execute("SELECT pid, text FROM passages WHERE doc_id = ? ORDER BY ordinal", (doc_id,)).fetchall()

    def stored_passages(self, doc_ids: Sequence[str]) -> dict[str, list[StoredPassage]]:
        """These documents' passages as they were written (with embed hash and BM25 tokens), in order."""
        out: dict[str, list[StoredPassage]] = {}
        for chunk in _batches(list(doc_ids), 500):
            for row in self._reader().execute(
                "SELECT chunk_id, doc_id, ordinal, text, char_start, char_end, section, embed_hash, tokens FROM passages "
                f"WHERE doc_id IN ({','.join('?' * len(chunk))}) ORDER BY doc_id, ordinal", chunk):
                out.setdefault(row[1], []).append(StoredPassage(Passage(*row[:7]), row[7], row[8]))
        return out

    def all_document_ids(self) -> list[str]:
        return [row[0] for row in self._reader().execute("SELECT doc_id FROM documents ORDER BY doc_id")]

    def passages_of(self, doc_id: str) -> list[Passage]:
        rows = self._reader().execute(
            "SELECT chunk_id, doc_id, ordinal, text, char_start, char_end, section FROM passages "
            "WHERE doc_id = ? ORDER BY ordinal",
            (doc_id,),
        ).fetchall()
        return [Passage(*row) for row in rows]

    def passages_by_pid(self, pids: Sequence[int]) -> dict[int, Passage]:
        return _passages_by_pid(self._reader(), pids)

    def pid_of_chunk(self, chunk_id: str) -> int | None:
        row = self._reader().execute("SELECT pid FROM passages WHERE chunk_id = ?", (chunk_id,)).fetchone()
        return row[0] if row else None

    def iter_passage_tokens(self) -> Iterator[tuple[int, str]]:
        yield from self._db.execute("SELECT pid, tokens FROM passages ORDER BY pid")

    def filtered_pids(self, where: PassageFilter) -> np.ndarray:
        return _filtered_pids(self._reader(), where)

    def phrase_candidates(self, folded_phrase: str, where: PassageFilter) -> dict[str, Document]:
        """Documents (with text) that `where` allows and qa.index.phrase_index says may hold the folded phrase."""
        if not phrase_index.is_complete(self._reader()):
            phrase_index.catch_up(self._db)
        clauses, params = _source_clause(where, *_document_clauses(where))
        return self.get_documents(phrase_index.candidate_doc_ids(self._reader(), folded_phrase, clauses, params),
                                  with_text=True)

    # -- vectors ----------------------------------------------------------
    def known_vectors(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for chunk in _batches(list(dict.fromkeys(hashes)), 500):
            marks = ",".join("?" * len(chunk))
            for key, blob in self._db.execute(
                f"SELECT embed_hash, vector FROM embeddings WHERE model = ? AND embed_hash IN ({marks})",
                [model, *chunk],
            ):
                out[key] = np.frombuffer(blob, dtype=np.float32)
        return out

    def known_sentence_vectors(self, model: str, hashes: Iterable[str], dim: int) -> dict[str, np.ndarray]:
        """The sentence vectors held for these embed hashes: float32 (sentences, dim) each."""
        out: dict[str, np.ndarray] = {}
        for chunk in _batches(list(dict.fromkeys(hashes)), 500):
            for key, blob in self._reader().execute(
                f"SELECT embed_hash, vectors FROM sentence_vectors WHERE model = ? AND embed_hash IN ({','.join('?' * len(chunk))})",
                [model, *chunk],
            ):
                out[key] = np.frombuffer(blob, dtype=np.float16).astype(np.float32).reshape(-1, dim)
        return out

    def iter_passage_vectors(self, model: str, batch: int = 20000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(pids, vectors) blocks for every passage, in pid order; a passage without a vector is skipped."""
        cursor = self._db.execute(
            "SELECT p.pid, e.vector FROM passages p JOIN embeddings e ON e.model = ? AND e.embed_hash = p.embed_hash "
            "ORDER BY p.pid",
            (model,),
        )
        while rows := cursor.fetchmany(batch):
            pids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
            vectors = np.vstack([np.frombuffer(row[1], dtype=np.float32) for row in rows])
            yield pids, vectors

    def passages_missing_sentence_vectors(self, model: str) -> list[tuple[str, str]]:
        """(embed_hash, text) of passages with a vector but no sentence vectors (stored before them)."""
        return self._db.execute(
            "SELECT p.embed_hash, p.text FROM passages p JOIN embeddings e ON e.model = ? AND e.embed_hash = p.embed_hash "
            "LEFT JOIN sentence_vectors s ON s.model = e.model AND s.embed_hash = p.embed_hash "
            "WHERE s.embed_hash IS NULL GROUP BY p.embed_hash",
            (model,),
        ).fetchall()

    def passages_missing_vectors(self, model: str) -> list[tuple[str, str]]:
        """(embed_hash, text) of passages the model has no vector for yet."""
        return self._db.execute(
            "SELECT p.embed_hash, p.text FROM passages p LEFT JOIN embeddings e "
            "ON e.model = ? AND e.embed_hash = p.embed_hash WHERE e.embed_hash IS NULL GROUP BY p.embed_hash",
            (model,),
        ).fetchall()


class StoreSnapshot:
    """Store reads as of one version (an open read transaction); what a request and a catch-up read."""

    def __init__(self, connection: sqlite3.Connection, version: int) -> None:
        self._db = connection
        self.version = version

    def filtered_pids(self, where: PassageFilter) -> np.ndarray:
        return _filtered_pids(self._db, where)

    def pids_of_document(self, doc_id: str) -> np.ndarray:
        return _filtered_pids(self._db, PassageFilter(doc_ids=(doc_id,)))

    def sentence_vectors(self, model: str, pids: Sequence[int], dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(pid of each row, float32 (rows, dim) vectors): the sentence vectors of those of `pids` that have
        them for `model`, each passage's rows together."""
        owners: list[int] = []
        blobs: list[bytes] = []
        for chunk in _batches([int(p) for p in pids], 500):
            for pid, blob in self._db.execute(
                "SELECT p.pid, s.vectors FROM passages p JOIN sentence_vectors s ON s.model = ? AND s.embed_hash = p.embed_hash "
                f"WHERE p.pid IN ({','.join('?' * len(chunk))})", [model, *chunk]):
                owners.extend([pid] * (len(blob) // (2 * dim)))
                blobs.append(blob)
        rows = np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(-1, dim).astype(np.float32)
        return np.array(owners, dtype=np.int64), rows

    def title_vectors(self, model: str, titles: Iterable[str]) -> dict[str, np.ndarray]:
        """The vectors of those of `titles` that have one for `model`."""
        return _title_vectors(self._db, model, titles)

    def passages(self, pids: Sequence[int]) -> dict[int, Passage]:
        return _passages_by_pid(self._db, pids)

    def documents(self, doc_ids: Iterable[str]) -> dict[str, DocumentSummary]:
        return _get_documents(self._db, doc_ids, with_text=False)

    def count_passages(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]

    def changes_since(self, version: int) -> ChangesSince | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'log_from'").fetchone()
        if version > self.version or row is None or version < int(row[0]):
            return None
        added, removed = set(), set()
        for pid, was_added in self._db.execute("SELECT pid, added FROM changes WHERE version > ? ORDER BY version",
                                               (version,)):
            if was_added:
                added.add(pid)
            elif pid in added:
                added.discard(pid)  # came and went within the span: the older state never held it
            else:
                removed.add(pid)
        return ChangesSince(version, self.version, np.array(sorted(added), dtype=np.int64),
                            np.array(sorted(removed), dtype=np.int64))

    def passage_tokens(self, pids: np.ndarray | None = None) -> tuple[np.ndarray, list[list[str]]]:
        """(pids, token lists) of these passages (every passage when None), in pid order."""
        if pids is None:
            rows = self._db.execute("SELECT pid, tokens FROM passages ORDER BY pid").fetchall()
        else:
            rows = []
            for chunk in _batches([int(p) for p in pids], 500):
                rows.extend(self._db.execute(
                    f"SELECT pid, tokens FROM passages WHERE pid IN ({','.join('?' * len(chunk))})", chunk))
            rows.sort()
        return (np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)),
                [row[1].split(" ") if row[1] else [] for row in rows])

    def passage_vectors(self, model: str, pids: np.ndarray | None = None,
                        batch: int = 20000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(pids, float32 vectors) blocks of these passages (every one when None), in pid order; a passage
        without a vector for `model` is left out."""
        sql = ("SELECT p.pid, e.vector FROM passages p JOIN embeddings e ON e.model = ? AND e.embed_hash = p.embed_hash")
        if pids is None:
            blocks: Iterable[list[int] | None] = [None]
        else:
            blocks = _batches(sorted(int(p) for p in pids), 500)
        for chunk in blocks:
            if chunk is None:
                cursor = self._db.execute(sql + " ORDER BY p.pid", (model,))
            else:
                cursor = self._db.execute(sql + f" WHERE p.pid IN ({','.join('?' * len(chunk))}) ORDER BY p.pid",
                                          [model, *chunk])
            while rows := cursor.fetchmany(batch):
                yield (np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)),
                       np.vstack([np.frombuffer(row[1], dtype=np.float32) for row in rows]))


def _filtered_pids(db: sqlite3.Connection, where: PassageFilter) -> np.ndarray:
    """Sorted pids of the passages `where` allows."""
    clauses, params = _source_clause(where, *_document_clauses(where))
    sql = "SELECT p.pid FROM passages p JOIN documents d ON d.doc_id = p.doc_id"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    return np.sort(np.fromiter((row[0] for row in db.execute(sql, params)), dtype=np.int64))


def _passages_by_pid(db: sqlite3.Connection, pids: Sequence[int]) -> dict[int, Passage]:
    out: dict[int, Passage] = {}
    for chunk in _batches([int(p) for p in pids], 500):
        marks = ",".join("?" * len(chunk))
        for row in db.execute(
            f"SELECT pid, chunk_id, doc_id, ordinal, text, char_start, char_end, section FROM passages "
            f"WHERE pid IN ({marks})",
            chunk,
        ):
            out[row[0]] = Passage(*row[1:])
    return out


_SUMMARY_COLUMNS = "d.doc_id, d.content_hash, d.title, d.date, d.date_kind, d.speaker, d.place, d.script"


def _get_documents(db: sqlite3.Connection, doc_ids: Iterable[str], with_text: bool) -> dict[str, DocumentSummary]:
    """Summaries of these documents, or with `with_text` the documents (their text read in the same query)."""
    columns = _SUMMARY_COLUMNS + (", d.text" if with_text else "")
    out: dict[str, DocumentSummary] = {}
    for chunk in _batches(list(dict.fromkeys(doc_ids)), 500):
        marks = ",".join("?" * len(chunk))
        rows = db.execute(f"SELECT {columns} FROM documents d WHERE d.doc_id IN ({marks})", chunk).fetchall()
        sources = _sources_of(db, chunk)
        for row in rows:
            summary = _summary_from_row(row[:8], sources.get(row[0], ()))
            out[row[0]] = summary.with_text(row[8]) if with_text else summary
    return out


def _sources_of(db: sqlite3.Connection, doc_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    if not doc_ids:
        return {}
    marks = ",".join("?" * len(doc_ids))
    grouped: dict[str, list[str]] = {}
    for doc_id, source in db.execute(
        f"SELECT doc_id, source FROM sources WHERE doc_id IN ({marks}) ORDER BY position", list(doc_ids)
    ):
        grouped.setdefault(doc_id, []).append(source)
    return {key: tuple(value) for key, value in grouped.items()}


def _summary_from_row(row: Sequence, sources: tuple[str, ...]) -> DocumentSummary:
    doc_id, content_hash, title, date, date_kind, speaker, place, script = row
    return DocumentSummary(
        doc_id=doc_id,
        content_hash=content_hash,
        metadata=Metadata(title=title, date=date, date_kind=date_kind, speaker=speaker, place=place),
        script=script,
        sources=sources,
    )


def _document_clauses(where: PassageFilter) -> tuple[list[str], list]:
    clauses: list[str] = []
    params: list = []
    if where.doc_ids:
        clauses.append(f"d.doc_id IN ({','.join('?' * len(where.doc_ids))})")
        params.extend(where.doc_ids)
    for clause, value in (("d.date >= ?", where.date_from), ("d.date <= ?", where.date_to), ("d.speaker = ?", where.speaker)):
        if value:
            clauses.append(clause)
            params.append(value)
    return clauses, params


def _source_clause(where: PassageFilter, clauses: list[str], params: list) -> tuple[list[str], list]:
    """The source filter on `documents d`: its first source is that file (or a record of it), or a page of that site."""
    if not where.source:
        return clauses, params
    prefixes = [f"{where.source}#", f"http://{where.source}/", f"https://{where.source}/"]
    clause = ("EXISTS (SELECT 1 FROM sources s WHERE s.doc_id = d.doc_id AND s.position = 0 AND (s.source = ?"
              + " OR substr(s.source, 1, ?) = ?" * len(prefixes) + "))")
    return [*clauses, clause], [*params, where.source, *(x for prefix in prefixes for x in (len(prefix), prefix))]


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
