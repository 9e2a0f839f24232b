"""A document as Milvus rows and back (its text rebuilt from its passages), and filters as Milvus expressions.

Every row is a passage carrying its document's metadata, so a filter is an expression on the row;
`lead` and `trail` keep the text between passages, so the page is put back together exactly.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from qa.citations import source_group
from qa.index.milvus_text import bm25_source
from qa.index.store_passages import StoredPassage
from qa.types import Document, DocumentSummary, Metadata, Passage, PassageFilter


def chunk_pid(chunk_id: str) -> int:
    """The int64 primary key of a passage, from its chunk id (itself a hash of document id and offsets):
    the same passage always gets the same key, so writing it twice (a rerun) overwrites, never duplicates."""
    value = int(chunk_id.removeprefix("c-")[:16], 16)
    return value - (1 << 64) if value >= 1 << 63 else value


def filter_expression(where: PassageFilter | None, exclude_doc: str | None = None, pids: Iterable[int] | None = None) -> str:
    """A PassageFilter (and an excluded document, and a pid list) as a Milvus boolean expression."""
    parts = []
    if where is not None and where.doc_ids:
        parts.append(f"doc_id in {literal(list(where.doc_ids))}")
    if where is not None and where.date_from:
        parts.append(f"date >= {literal(where.date_from)}")
    if where is not None and where.date_to:
        parts.append(f'date <= {literal(where.date_to)} and date != ""')  # "" is an unknown date
    if where is not None and where.speaker:
        parts.append(f"speaker == {literal(where.speaker)}")
    if where is not None and where.source:
        parts.append(f"source_group == {literal(where.source)}")
    if exclude_doc:
        parts.append(f"doc_id != {literal(exclude_doc)}")
    if pids is not None:
        parts.append(f"pid in {literal([int(pid) for pid in pids])}")
    return " and ".join(parts)


def literal(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def text_or_none(value: str | None) -> str | None:
    return value or None


def clip(text: str | None, limit_bytes: int = 4096) -> str:
    """Milvus VARCHAR limits count UTF-8 bytes."""
    text = text or ""
    encoded = text.encode("utf-8")
    return text if len(encoded) <= limit_bytes else encoded[:limit_bytes].decode("utf-8", errors="ignore")


def passage_rows(document: Document, stored: Sequence[StoredPassage], vectors: Sequence[np.ndarray]) -> list[dict]:
    """The Milvus rows of one document: a row per passage with the document's metadata on each.

    `lead` keeps the document text between the previous passage's end and this one's start (and the
    last row's `trail` what follows it), so the page is rebuilt from the rows exactly.
    """
    meta = document.metadata
    order = sorted(range(len(stored)), key=lambda i: (stored[i].passage.char_start, stored[i].passage.ordinal))
    rows: list[dict] = [{} for _ in stored]
    covered = 0
    for position, i in enumerate(order):
        passage = stored[i].passage
        lead = document.text[covered:passage.char_start] if passage.char_start > covered else ""
        covered = max(covered, passage.char_end)
        rows[i] = {
            "pid": chunk_pid(passage.chunk_id),
            "chunk_id": passage.chunk_id,
            "doc_id": document.doc_id,
            "ordinal": passage.ordinal,
            "text": passage.text,
            "bm25_text": bm25_source(passage.text, meta.title, stored[i].tokens),
            "char_start": passage.char_start,
            "char_end": passage.char_end,
            "section": clip(passage.section),
            "lead": lead,
            "trail": document.text[covered:] if position == len(order) - 1 else "",
            "title": clip(meta.title),
            "date": meta.date or "",
            "date_kind": meta.date_kind or "",
            "speaker": clip(meta.speaker, 512),
            "place": clip(meta.place, 512),
            "script": document.script,
            "content_hash": document.content_hash,
            "sources": [clip(source, 1024) for source in document.sources[:64]],
            "source_group": clip(source_group(document.source), 1024),
            "n_passages": len(stored),
            "vector": np.asarray(vectors[i], dtype=np.float32).tolist(),
        }
    # The first passage is written last: once it is in Milvus, so is the whole document (resuming relies on it).
    return sorted(rows, key=lambda row: row["ordinal"] == 0)


def assemble_text(rows: Sequence[dict]) -> str:
    """A document's cleaned text from its passage rows (any order)."""
    pieces: list[str] = []
    covered = 0
    ordered = sorted(rows, key=lambda row: (row["char_start"], row["ordinal"]))
    for row in ordered:
        pieces.append(row["lead"])
        pieces.append(row["text"][max(0, covered - row["char_start"]):])
        covered = max(covered, row["char_end"])
    if ordered:
        pieces.append(ordered[-1]["trail"])
    return "".join(pieces)


PASSAGE_FIELDS = ["pid", "chunk_id", "doc_id", "ordinal", "text", "char_start", "char_end", "section"]
DOCUMENT_FIELDS = ["doc_id", "content_hash", "title", "date", "date_kind", "speaker", "place", "script", "sources", "n_passages"]
PASSAGE_AND_DOCUMENT_FIELDS = list(dict.fromkeys(PASSAGE_FIELDS + DOCUMENT_FIELDS))


def passage_of_row(row: dict) -> Passage:
    return Passage(row["chunk_id"], row["doc_id"], int(row["ordinal"]), row["text"], int(row["char_start"]),
                   int(row["char_end"]), text_or_none(row["section"]))


def document_of_row(row: dict) -> DocumentSummary:
    return DocumentSummary(
        doc_id=row["doc_id"],
        content_hash=row["content_hash"],
        metadata=Metadata(title=text_or_none(row["title"]), date=text_or_none(row["date"]),
                          date_kind=text_or_none(row["date_kind"]), speaker=text_or_none(row["speaker"]),
                          place=text_or_none(row["place"])),
        script=row["script"],
        sources=tuple(row["sources"] or ()),
    )


def document_with_text(document: DocumentSummary, rows: Sequence[dict]) -> Document:
    return document.with_text(assemble_text(rows))


def batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
