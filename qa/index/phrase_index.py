"""A trigram index of every document's folded text: which documents may hold a phrase.

Derived from the store and written inside its add/remove transactions (one call each), so it is
always as current as the documents themselves. A collection built before the index existed is
filled in on the first phrase query. The FTS5 table is contentless and keeps no positions
(detail=none): it answers "holds every trigram of the phrase", a small superset of the documents
that hold the phrase itself, which qa.search.phrase then scans exactly. Without positions it takes much
less disk than a positional index (scripts/bench.py --phrase-collection reports its size) and finds the
same documents all but rarely.

A two-character phrase is no trigram, but every occurrence of it starts one: each indexed text ends
with END, so even one at the very end does. Its documents are those holding any trigram that
begins with the phrase, which the index's vocabulary lists in one range scan.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable

import numpy as np

from qa.index.transaction import write_transaction
from qa.text.normalize import to_simplified

SCHEMA = """
CREATE TABLE IF NOT EXISTS phrase_docs (rowid INTEGER PRIMARY KEY, doc_id TEXT NOT NULL UNIQUE);
CREATE VIRTUAL TABLE IF NOT EXISTS phrase_grams
    USING fts5(text, content='', tokenize='trigram', columnsize=0, detail=none);
CREATE VIRTUAL TABLE IF NOT EXISTS phrase_terms USING fts5vocab(phrase_grams, 'row');
"""
GRAM = 3  # the trigram tokenizer's token length
END = "\ue000"  # a private-use character after each indexed text: no phrase holds it
# What the rows of phrase_grams were made from; an index of another format is rebuilt on first use.
FORMAT = "2"
FORMAT_KEY = "phrase_index_format"
# Requests that find the index behind at once catch it up one at a time, and the later ones find it done.
_CATCH_UP = threading.Lock()


def fold_for_phrase(text: str) -> str:
    """Simplified script, ASCII widths, lower case, character for character: result[i] stands for text[i].

    Offsets found in the folded text are offsets into the original, so a match can be marked where
    the reader sees it. OpenCC converts whole phrases, and a few of its phrase rules change the
    length; the lines where that happens are converted one character at a time instead.
    """
    simplified = to_simplified(text)
    if len(simplified) != len(text):
        simplified = "".join(_simplified_line(line) for line in text.splitlines(keepends=True))
    folded = _fold_width(simplified)
    lowered = folded.lower()
    if len(lowered) == len(folded):
        return lowered
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in folded)


# qa.text.normalize.fold_width's table, applied to code points at once: str.translate looks every character
# up in a dict, which made it most of a timeline's time on texts full of full-width punctuation.
_QUOTES = {0x201C: 0x22, 0x201D: 0x22, 0x2018: 0x27, 0x2019: 0x27, 0x3000: 0x20}


def _fold_width(text: str) -> str:
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).copy()
    codes[(codes >= 0xFF01) & (codes <= 0xFF5E)] -= 0xFEE0
    for code, folded in _QUOTES.items():
        codes[codes == code] = folded
    return codes.tobytes().decode("utf-32-le")


def _simplified_line(line: str) -> str:
    converted = to_simplified(line)
    if len(converted) == len(line):
        return converted
    return "".join(c if len(c := to_simplified(ch)) == 1 else ch for ch in line)


def create_schema(db: sqlite3.Connection) -> None:
    db.executescript(SCHEMA)
    if db.execute("SELECT 1 FROM phrase_docs LIMIT 1").fetchone() is None:  # nothing indexed yet: this format
        db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)", (FORMAT_KEY, FORMAT))


def _indexed(text: str) -> str:
    return fold_for_phrase(text) + END


def add_document(db: sqlite3.Connection, doc_id: str, text: str) -> None:
    """Index one document; call inside the transaction that inserts it."""
    rowid = db.execute("INSERT INTO phrase_docs(doc_id) VALUES (?)", (doc_id,)).lastrowid
    db.execute("INSERT INTO phrase_grams(rowid, text) VALUES (?, ?)", (rowid, _indexed(text)))


def remove_document(db: sqlite3.Connection, doc_id: str) -> None:
    """Unindex one document; call inside the transaction that deletes it, before the delete.

    A contentless table forgets a row only when told the text it was given, which is folded again here.
    """
    row = db.execute(
        "SELECT p.rowid, d.text FROM phrase_docs p JOIN documents d ON d.doc_id = p.doc_id WHERE p.doc_id = ?",
        (doc_id,),
    ).fetchone()
    if row is None:
        return
    if _format(db) == FORMAT:  # an index of another format was made from other texts; it is rebuilt on first use
        db.execute("INSERT INTO phrase_grams(phrase_grams, rowid, text) VALUES ('delete', ?, ?)", (row[0], _indexed(row[1])))
    db.execute("DELETE FROM phrase_docs WHERE rowid = ?", (row[0],))


def is_complete(db: sqlite3.Connection) -> bool:
    if _format(db) != FORMAT:
        return False
    indexed = db.execute("SELECT COUNT(*) FROM phrase_docs").fetchone()[0]
    return indexed == db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]


def catch_up(db: sqlite3.Connection) -> int:
    """Index the documents the index lacks (a collection from before it existed); returns how many.

    When it holds documents the store no longer has (removed by code that skipped the hook) their
    texts are gone, and a contentless table cannot forget them without those: it is rebuilt, as is
    an index of an older format.
    """
    with _CATCH_UP:
        if is_complete(db):
            return 0
        return _catch_up(db)


def _catch_up(db: sqlite3.Connection) -> int:
    with write_transaction(db):
        orphans = db.execute(
            "SELECT COUNT(*) FROM phrase_docs p WHERE NOT EXISTS (SELECT 1 FROM documents d WHERE d.doc_id = p.doc_id)"
        ).fetchone()[0]
        if orphans or _format(db) != FORMAT:
            db.execute("INSERT INTO phrase_grams(phrase_grams) VALUES ('delete-all')")
            db.execute("DELETE FROM phrase_docs")
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (FORMAT_KEY, FORMAT))
        missing = [row[0] for row in db.execute(
            "SELECT d.doc_id FROM documents d WHERE NOT EXISTS (SELECT 1 FROM phrase_docs p WHERE p.doc_id = d.doc_id)")]
        for start in range(0, len(missing), 1000):  # texts a thousand at a time, not the whole collection's at once
            batch = missing[start : start + 1000]
            marks = ",".join("?" * len(batch))
            for doc_id, text in db.execute(f"SELECT doc_id, text FROM documents WHERE doc_id IN ({marks})", batch).fetchall():
                add_document(db, doc_id, text)
    return len(missing)


def _format(db: sqlite3.Connection) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (FORMAT_KEY,)).fetchone()
    return row[0] if row else None


def _match_query(db: sqlite3.Connection, folded_phrase: str) -> str | None:
    """The FTS5 query for a phrase's documents; None when no document can hold it."""
    if len(folded_phrase) >= GRAM:
        grams = dict.fromkeys(folded_phrase[i : i + GRAM] for i in range(len(folded_phrase) - GRAM + 1))
        return " AND ".join(_quoted(gram) for gram in grams)
    terms = [row[0] for row in db.execute("SELECT term FROM phrase_terms WHERE term >= ? AND term < ?",
                                          (folded_phrase, folded_phrase + "\U0010ffff"))]
    return " OR ".join(_quoted(term) for term in terms) if terms else None


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def candidate_doc_ids(db: sqlite3.Connection, folded_phrase: str, clauses: Iterable[str], params: Iterable) -> list[str]:
    """Ids of the documents passing `clauses` (SQL over `documents d`) that may hold the phrase (two
    characters or more): every trigram of it, or for two characters a trigram that begins with it."""
    query = _match_query(db, folded_phrase)
    if query is None:
        return []
    sql = ("SELECT d.doc_id FROM phrase_grams g JOIN phrase_docs p ON p.rowid = g.rowid "
           "JOIN documents d ON d.doc_id = p.doc_id WHERE " + " AND ".join(["phrase_grams MATCH ?", *clauses]))
    return [row[0] for row in db.execute(sql, [query, *params])]
