"""Results as files people take into their notes: CSV and JSON Lines, one cited passage a row.

Both carry the same fields, with the passage's link made absolute, since an exported row is read
away from the app. CSV starts with a byte-order mark: spreadsheet programs otherwise read UTF-8
Chinese as mojibake. A CSV cell that starts like a formula (= + - @, or a tab or carriage return
before one) is written with a leading apostrophe, so that a spreadsheet shows a scraped text as text
rather than running it (CSV injection); JSON Lines carry every value as it is.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

from qa.errors import BadInputError
from qa.types import Hit

FORMATS = ("csv", "jsonl")
COLUMNS = ("rank", "chunk_id", "doc_id", "title", "date", "speaker", "place", "source", "url", "char_start", "char_end",
           "text")
# Phrase occurrences add where the phrase itself is, in the document's text.
MATCH_COLUMNS = ("match_start", "match_end")


@dataclass(frozen=True)
class Download:
    body: str
    media_type: str
    filename: str


def check_format(name: str | None) -> str | None:
    if name in (None, ""):
        return None
    if name not in FORMATS:
        raise BadInputError(f"format must be csv or jsonl (or left out for JSON), not {name!r}")
    return name


def export_row(hit: Hit, base_url: str) -> dict:
    passage, meta = hit.passage, hit.document.metadata
    row = {
        "rank": hit.rank,
        "chunk_id": passage.chunk_id,
        "doc_id": passage.doc_id,
        "title": meta.title,
        "date": meta.date,
        "speaker": meta.speaker,
        "place": meta.place,
        "source": hit.document.source,
        "url": f"{base_url.rstrip('/')}/doc/{passage.doc_id}#{passage.chunk_id}",
        "char_start": passage.char_start,
        "char_end": passage.char_end,
        "text": passage.text,
    }
    if hit.match is not None:
        row["match_start"], row["match_end"] = hit.match
    return row


_FORMULA_START = tuple("=+-@\t\r")


def spreadsheet_cell(value: object) -> object:
    """A CSV cell's value: None as empty, text that a spreadsheet would read as a formula behind an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export(hits: Sequence[Hit], fmt: str, base_url: str, name: str) -> Download:
    """The hits as a CSV or JSON Lines download called `name`.csv / `name`.jsonl."""
    rows = [export_row(hit, base_url) for hit in hits]
    columns = COLUMNS + (MATCH_COLUMNS if any("match_start" in row for row in rows) else ())
    if fmt == "jsonl":
        body = "".join(json.dumps({key: row.get(key) for key in columns}, ensure_ascii=False) + "\n" for row in rows)
        return Download(body, "application/x-ndjson; charset=utf-8", f"{name}.jsonl")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({key: spreadsheet_cell(row.get(key)) for key in columns} for row in rows)
    return Download("\ufeff" + out.getvalue(), "text/csv; charset=utf-8", f"{name}.csv")
