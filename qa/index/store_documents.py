"""Documents and their sources in the store: by id, listed, by content hash, by filter, by phrase."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Literal, overload

from qa.index import phrase_index
from qa.index.store_connections import StoreConnections, in_batches, marks
from qa.index.transaction import write_transaction
from qa.types import Document, DocumentSummary, FacetFields, Metadata, PassageFilter

SUMMARY_COLUMNS = "d.doc_id, d.content_hash, d.title, d.date, d.date_kind, d.speaker, d.place, d.script"


def insert_document(db: sqlite3.Connection, document: Document, shingles: bytes | None) -> None:
    """One document with its sources and its phrase index entry, inside the write's transaction."""
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


def find_document(db: sqlite3.Connection, document: Document) -> str | None:
    """The id of the stored document with this one's text (or id), inside the write's transaction."""
    row = db.execute("SELECT doc_id FROM documents WHERE content_hash = ? OR doc_id = ?",
                     (document.content_hash, document.doc_id)).fetchone()
    return row[0] if row else None


def add_sources(db: sqlite3.Connection, doc_id: str, sources: Iterable[str]) -> bool:
    """Record more sources of a stored document, inside the write's transaction; whether any was new."""
    position = db.execute("SELECT COUNT(*) FROM sources WHERE doc_id = ?", (doc_id,)).fetchone()[0]
    added = 0
    for source in sources:
        added += db.execute("INSERT OR IGNORE INTO sources(doc_id, source, position) VALUES (?,?,?)",
                            (doc_id, source, position + added)).rowcount
    return added > 0


def read_documents(db: sqlite3.Connection, doc_ids: Iterable[str], with_text: bool) -> dict[str, DocumentSummary]:
    """Summaries of these documents, or with `with_text` the documents (their text read in the same query)."""
    columns = SUMMARY_COLUMNS + (", d.text" if with_text else "")
    out: dict[str, DocumentSummary] = {}
    for chunk in in_batches(list(dict.fromkeys(doc_ids))):
        rows = db.execute(f"SELECT {columns} FROM documents d WHERE d.doc_id IN ({marks(chunk)})", chunk).fetchall()
        sources = sources_of(db, chunk)
        for row in rows:
            summary = summary_from_row(row[:8], sources.get(row[0], ()))
            out[row[0]] = summary.with_text(row[8]) if with_text else summary
    return out


def read_facet_fields(db: sqlite3.Connection, pids: Sequence[int]) -> list[FacetFields]:
    """(date, speaker, first source) of the document of each of these passages, one a stored passage."""
    out: list[FacetFields] = []
    for chunk in in_batches([int(pid) for pid in pids]):
        out.extend(db.execute(
            "SELECT d.date, d.speaker, (SELECT s.source FROM sources s WHERE s.doc_id = d.doc_id ORDER BY s.position "
            f"LIMIT 1) FROM passages p JOIN documents d ON d.doc_id = p.doc_id WHERE p.pid IN ({marks(chunk)})", chunk))
    return out


def sources_of(db: sqlite3.Connection, doc_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    if not doc_ids:
        return {}
    grouped: dict[str, list[str]] = {}
    for doc_id, source in db.execute(
        f"SELECT doc_id, source FROM sources WHERE doc_id IN ({marks(list(doc_ids))}) ORDER BY position", list(doc_ids)
    ):
        grouped.setdefault(doc_id, []).append(source)
    return {key: tuple(value) for key, value in grouped.items()}


def summary_from_row(row: Sequence, sources: tuple[str, ...]) -> DocumentSummary:
    doc_id, content_hash, title, date, date_kind, speaker, place, script = row
    return DocumentSummary(
        doc_id=doc_id,
        content_hash=content_hash,
        metadata=Metadata(title=title, date=date, date_kind=date_kind, speaker=speaker, place=place),
        script=script,
        sources=sources,
    )


def filter_clauses(where: PassageFilter) -> tuple[list[str], list]:
    """(SQL clauses on `documents d`, their parameters) for the documents `where` allows."""
    clauses: list[str] = []
    params: list = []
    if where.doc_ids:
        clauses.append(f"d.doc_id IN ({marks(list(where.doc_ids))})")
        params.extend(where.doc_ids)
    for clause, value in (("d.date >= ?", where.date_from), ("d.date <= ?", where.date_to), ("d.speaker = ?", where.speaker)):
        if value:
            clauses.append(clause)
            params.append(value)
    if where.source:
        # Its first source is that file (or a record of it), or a page of that site.
        prefixes = [f"{where.source}#", f"http://{where.source}/", f"https://{where.source}/"]
        clauses.append("EXISTS (SELECT 1 FROM sources s WHERE s.doc_id = d.doc_id AND s.position = 0 AND (s.source = ?"
                       + " OR substr(s.source, 1, ?) = ?" * len(prefixes) + "))")
        params.extend([where.source, *(x for prefix in prefixes for x in (len(prefix), prefix))])
    return clauses, params


class DocumentRecords(StoreConnections):
    def add_source(self, doc_id: str, source: str) -> bool:
        """Record one more source of a document; False when it was already known."""
        with write_transaction(self._db) as db:
            return add_sources(db, doc_id, [source])

    def find_by_hash(self, content_hash: str) -> str | None:
        row = self._db.execute("SELECT doc_id FROM documents WHERE content_hash = ?", (content_hash,)).fetchone()
        return row[0] if row else None

    def iter_shingles(self) -> Iterator[tuple[str, bytes]]:
        yield from self._db.execute("SELECT doc_id, shingles FROM documents WHERE shingles IS NOT NULL")

    def count_documents(self) -> int:
        return self._reader().execute("SELECT COUNT(*) FROM documents").fetchone()[0]

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
        return read_documents(self._reader(), doc_ids, with_text)

    def list_documents(self, offset: int = 0, limit: int = 50) -> list[tuple[DocumentSummary, int]]:
        rows = self._reader().execute(
            f"SELECT {SUMMARY_COLUMNS}, (SELECT COUNT(*) FROM passages p WHERE p.doc_id = d.doc_id) "
            "FROM documents d ORDER BY d.date IS NULL, d.date DESC, d.title, d.doc_id LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        sources = sources_of(self._reader(), [row[0] for row in rows])
        return [(summary_from_row(row[:-1], sources.get(row[0], ())), row[-1]) for row in rows]

    def all_document_ids(self) -> list[str]:
        return [row[0] for row in self._reader().execute("SELECT doc_id FROM documents ORDER BY doc_id")]

    def phrase_candidates(self, folded_phrase: str, where: PassageFilter) -> dict[str, Document]:
        """Documents (with text) that `where` allows and qa.index.phrase_index says may hold the folded phrase."""
        if not phrase_index.is_complete(self._reader()):
            phrase_index.catch_up(self._db)
        clauses, params = filter_clauses(where)
        return self.get_documents(phrase_index.candidate_doc_ids(self._reader(), folded_phrase, clauses, params),
                                  with_text=True)
