"""SQLite store of documents, their sources, passages and the embedding cache.

SQLite is the source of truth of a collection: the FAISS and BM25 files beside it
are derived and are rebuilt from it whenever their recorded version lags behind
(after a crash, say). Every write is one transaction holding whole documents.

`PassageStore` is its parts, each a module with one job: the connections (store_connections),
the version and change log (store_log), documents (store_documents), passages (store_passages) and
vectors (store_vectors); the writes that change passages, and so the version, are here.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from qa.index import phrase_index
from qa.index.reuse_index import IndexedDocument, read_indexed_documents
from qa.index.sentence_copy import SentenceFile, sentence_rows
from qa.index.store_documents import (
    DocumentRecords,
    add_sources,
    find_document,
    insert_document,
    read_documents,
    read_facet_fields,
)
from qa.index.store_log import ChangeLog, ChangesSince, StoreChange, log_changes, read_changes_since, read_version
from qa.index.store_names import SCHEMA as NAMES_SCHEMA
from qa.index.store_names import NameRecords, insert_name_pairs, replace_name_pairs
from qa.index.store_passages import (
    PassageRecords,
    StoredPassage,
    insert_passages,
    read_filtered_pids,
    read_passage_tokens,
    read_passages,
)
from qa.index.store_vectors import (
    VectorRecords,
    insert_sentence_vectors,
    insert_vectors,
    read_passage_vectors,
    read_sentence_blobs,
    read_title_vectors,
)
from qa.index.transaction import write_transaction
from qa.text.name_pairs import NamePair
from qa.types import Document, DocumentSummary, FacetFields, Metadata, Passage, PassageFilter

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


class PassageStore(ChangeLog, DocumentRecords, PassageRecords, VectorRecords, NameRecords):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._db.executescript(_SCHEMA)
        self._db.executescript(NAMES_SCHEMA)
        phrase_index.create_schema(self._db)
        self._migrate()

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

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[StoreSnapshot]:
        """Reads as of one committed version until the block ends (an SQLite read transaction, WAL keeps it)."""
        with self._snapshot() as connection:
            yield StoreSnapshot(connection, read_version(connection))

    # -- the writes that make a version ------------------------------------------
    def add_documents(
        self,
        items: Sequence[tuple[Document, Sequence[StoredPassage], bytes | None]],
        vectors: dict[str, np.ndarray],
        model: str,
        sentence_vectors: dict[str, np.ndarray] | None = None,
        name_pairs: Mapping[str, Sequence[NamePair]] | None = None,
    ) -> StoreChange:
        """Write whole documents with their passages and new vectors (and sentence vectors, and the name
        pairs each states, by doc id) in one transaction.

        Returns the change: the new version and the pids given to the passages, in the order of `items`. A
        document whose text the store holds already (another writer added it since this one looked) is not
        written again: its sources are added to the stored one, and the change names it in `already_stored`.
        """
        with write_transaction(self._db) as db:
            next_pid = int(self.get_meta("next_pid") or 1)
            added: list[int] = []
            already_stored: dict[str, bool] = {}
            for document, stored, shingles in items:
                known = find_document(db, document)
                if known is not None:
                    already_stored[document.doc_id] = add_sources(db, known, document.sources)
                    continue
                insert_document(db, document, shingles)
                insert_name_pairs(db, document.doc_id, (name_pairs or {}).get(document.doc_id, ()))
                pids = list(range(next_pid, next_pid + len(stored)))
                next_pid += len(stored)
                added.extend(pids)
                insert_passages(db, pids, stored)
            self.set_meta("next_pid", str(next_pid))
            insert_vectors(db, model, vectors)
            insert_sentence_vectors(db, model, sentence_vectors or {})
            version = self._bump_version()
            log_changes(db, version, added, added=True)
        return StoreChange(version, np.array(added, dtype=np.int64), np.empty(0, dtype=np.int64), already_stored)

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
                log_changes(db, version, removed.tolist(), added=False)
                change = StoreChange(version, np.empty(0, dtype=np.int64), removed)
        return change

    def refresh_derived(self, updates: Sequence[tuple[str, Metadata, dict[int, str]]],
                        name_pairs: Mapping[str, Sequence[NamePair]] | None = None) -> int:
        """Rewrite what ingest derives from a stored document (its metadata, its passages' BM25 words, the
        name pairs it states), for collections built by an older speechqa; one transaction, then the
        indexes are rebuilt.

        Args:
            updates: (doc_id, metadata, {pid: space-joined tokens}) per document.
            name_pairs: the pairs each of them states, by doc id (None: their pairs stay as they are).
        Returns:
            The new store version.
        """
        with write_transaction(self._db) as db:
            for doc_id, meta, tokens in updates:
                if name_pairs is not None:
                    replace_name_pairs(db, doc_id, name_pairs.get(doc_id, ()))
                db.execute("UPDATE documents SET title = ?, date = ?, date_kind = ?, speaker = ?, place = ? WHERE doc_id = ?",
                           (meta.title, meta.date, meta.date_kind, meta.speaker, meta.place, doc_id))
                db.executemany("UPDATE passages SET tokens = ? WHERE pid = ?", [(t, pid) for pid, t in tokens.items()])
            version = self._bump_version()
        return version

    def put_vectors(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        with write_transaction(self._db):
            insert_vectors(self._db, model, vectors)
            self._bump_version()


class StoreSnapshot:
    """Store reads as of one version (an open read transaction); what a request and a catch-up read."""

    def __init__(self, connection: sqlite3.Connection, version: int) -> None:
        self._db = connection
        self.version = version

    def filtered_pids(self, where: PassageFilter) -> np.ndarray:
        return read_filtered_pids(self._db, where)

    def pids_of_document(self, doc_id: str) -> np.ndarray:
        return read_filtered_pids(self._db, PassageFilter(doc_ids=(doc_id,)))

    def sentence_vectors(self, model: str, pids: Sequence[int], dim: int,
                         copy: SentenceFile | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(pid of each row, float32 (rows, dim) vectors): the sentence vectors of those of `pids` that have
        them for `model`, each passage's rows together; read from `copy` (qa.index.sentence_copy) where it
        holds them."""
        return sentence_rows(pids, dim, copy, lambda chunk: read_sentence_blobs(self._db, model, chunk))

    def every_sentence_blob(self, model: str) -> Iterator[tuple[int, bytes]]:
        """(pid, float16 rows as stored) of every passage with sentence vectors for `model`, in pid order."""
        return read_sentence_blobs(self._db, model, None)

    def title_vectors(self, model: str, titles: Iterable[str]) -> dict[str, np.ndarray]:
        """The vectors of those of `titles` that have one for `model`."""
        return read_title_vectors(self._db, model, titles)

    def passages(self, pids: Sequence[int]) -> dict[int, Passage]:
        return read_passages(self._db, pids)

    def documents(self, doc_ids: Iterable[str]) -> dict[str, DocumentSummary]:
        return read_documents(self._db, doc_ids, with_text=False)

    def facet_fields(self, pids: Sequence[int]) -> list[FacetFields]:
        return read_facet_fields(self._db, pids)

    def count_passages(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]

    def changes_since(self, version: int) -> ChangesSince | None:
        return read_changes_since(self._db, self.version, version)

    def passage_tokens(self, pids: np.ndarray | None = None) -> tuple[np.ndarray, list[list[str]]]:
        """(pids, token lists) of these passages (every passage when None), in pid order."""
        return read_passage_tokens(self._db, pids)

    def indexed_documents(self, pids: np.ndarray | None = None) -> Iterator[IndexedDocument]:
        """The documents holding any of these pids (every document when None) as the reuse index reads them."""
        return read_indexed_documents(self._db, pids)

    def passage_vectors(self, model: str, pids: np.ndarray | None = None,
                        batch: int = 20000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(pids, float32 vectors) blocks of these passages (every one when None), in pid order; a passage
        without a vector for `model` is left out."""
        return read_passage_vectors(self._db, model, pids, batch)
