"""Collections, one document per record: JSON Lines (.jsonl, .jsonl.gz) and CSV with a header row.

A collection streams: a record at a time is read, a bad record is rejected and the rest go through,
and ``max_bytes`` limits each record.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
import zlib
from collections.abc import Iterator, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Protocol

from qa.errors import BadInputError
from qa.ingest.dates import normalize_date
from qa.ingest.readers.contents import MB, FileContents, open_binary, size_text
from qa.ingest.readers.decoding import CONTROL_CHARS, detect_encoding
from qa.ingest.readers.html_pages import text_of_field
from qa.types import RawDocument, Rejection

COLLECTION_SUFFIXES = (".jsonl", ".jsonl.gz", ".csv")
TITLE_FIELDS = ("title",)
DATE_FIELDS = ("date", "pub_date")
TEXT_FIELDS = ("content", "content_html", "text", "body")

def _field(record: Mapping[str, object], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = record.get(name)
        if value is not None and not isinstance(value, (dict, list)):
            text = str(value).strip()
            if text:
                return text
    return None


def _record_to_document(record: Mapping[str, object], fallback_source: str, max_bytes: int) -> RawDocument:
    """One collection record as a document; BadInputError says why it is not one."""
    body = _field(record, TEXT_FIELDS)
    if body is None:
        raise BadInputError(f"record has no text; put it in one of the fields {', '.join(TEXT_FIELDS)}")
    if len(body) > max_bytes:
        raise BadInputError(f"record text is over the {size_text(max_bytes)} limit; split it or raise max_bytes")
    body = text_of_field(body)
    title = _field(record, TITLE_FIELDS)
    title = " ".join(text_of_field(title).split()) if title else None
    subtitle = _field(record, ("subtitle",))
    if subtitle:
        subtitle = " ".join(text_of_field(subtitle).split())
        if subtitle != title and not body.startswith(subtitle):
            body = f"{subtitle}\n{body}"
    if not body.strip():
        raise BadInputError("record text is empty once HTML is removed; drop the record or fill in its text")
    url = _field(record, ("url",))
    raw_date = _field(record, DATE_FIELDS)
    return RawDocument(
        text=body,
        source=url or fallback_source,
        title=title or None,
        date=normalize_date(raw_date) if raw_date else None,
        speaker=_field(record, ("speaker",)),
        place=_field(record, ("place",)),
        url=url,
    )


def read_collection(file: FileContents, source: str, suffix: str, max_bytes: int) -> Iterator[RawDocument | Rejection]:
    """The documents of a collection with one of ``COLLECTION_SUFFIXES``, and a rejection for each bad record."""
    try:
        if suffix == ".csv":
            yield from _read_csv(file, source, max_bytes)
        else:
            with open_binary(file) as raw, (gzip.open(raw, "rb") if suffix == ".jsonl.gz" else nullcontext(raw)) as stream:
                yield from _read_jsonl(stream, source, max_bytes)
    except (OSError, EOFError, zlib.error) as exc:
        where = "gzip data" if suffix == ".jsonl.gz" else "file"
        yield Rejection(
            source, f"cannot read the {where} ({exc}); the rest of the file was skipped — re-create or re-download it"
        )


class _LineSource(Protocol):
    def readline(self, size: int = -1, /) -> bytes: ...

    def peek(self, size: int, /) -> bytes: ...


# The head of a .jsonl file that is looked at to tell a binary file from text, so that such a
# file is one rejection rather than one per "line" of its bytes.
_JSONL_HEAD = 8192


def _not_jsonl_text(head: bytes) -> str | None:
    """Why the first bytes of a .jsonl file show that it is not JSON Lines text, or None."""
    if b"\x00" in head:
        return "looks like a binary file (NUL bytes in its first 8 KB), not JSON Lines"
    text = head.decode("utf-8", "replace")  # a character cut at the end of the head costs one U+FFFD
    if text.count("\ufffd") + len(CONTROL_CHARS.findall(text)) > max(8, len(text) // 10):
        return "its first 8 KB are mostly not UTF-8 text: a binary file, or text in another encoding, not JSON Lines"
    return None


def _bounded_lines(stream: _LineSource, max_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line) pairs; a line over ``max_bytes`` comes as None and is skipped unread."""
    number = 0
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        number += 1
        if len(line) > max_bytes and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(MB)
            yield number, None
        else:
            yield number, line


def _read_jsonl(stream: _LineSource, source: str, max_bytes: int) -> Iterator[RawDocument | Rejection]:
    problem = _not_jsonl_text(stream.peek(_JSONL_HEAD)[:_JSONL_HEAD])
    if problem is not None:
        yield Rejection(source, f"{problem}; JSON Lines must be UTF-8 text, one JSON object a line")
        return
    for number, line in _bounded_lines(stream, max_bytes):
        where = f"{source}#L{number}"
        if line is None:
            yield Rejection(
                where, f"line {number} is over the {size_text(max_bytes)} limit; split the record or raise max_bytes"
            )
            continue
        if not line.strip():
            continue
        try:
            record = json.loads(line.decode("utf-8-sig").strip())
        except UnicodeDecodeError:
            yield Rejection(where, f"line {number} is not UTF-8; JSON Lines must be UTF-8, re-save the file as UTF-8")
            continue
        except json.JSONDecodeError as exc:
            yield Rejection(
                where,
                f"line {number} is not valid JSON ({exc.msg.removesuffix(' at')} at character {exc.pos + 1}); "
                "fix or remove the line",
            )
            continue
        except RecursionError:  # the decoder recurses once per nesting level
            yield Rejection(
                where,
                f"line {number}: nested too deeply (arrays or objects inside each other more than "
                f"about {sys.getrecursionlimit():,} levels); a record is one flat object, fix or remove the line",
            )
            continue
        if not isinstance(record, dict):
            yield Rejection(
                where, f"line {number} is a JSON {type(record).__name__}, not an object; write one object per line"
            )
            continue
        try:
            yield _record_to_document(record, where, max_bytes)
        except BadInputError as exc:
            yield Rejection(_field(record, ("url",)) or where, f"line {number}: {exc}")


def _read_csv(file: FileContents, source: str, max_bytes: int) -> Iterator[RawDocument | Rejection]:
    with open_binary(file) as raw:
        head = raw.read(64 * 1024)
    try:
        encoding = detect_encoding(head, complete=len(head) < 64 * 1024)
    except BadInputError as exc:
        yield Rejection(source, str(exc))
        return
    with io.TextIOWrapper(open_binary(file), encoding=encoding, newline="", errors="strict") as stream:
        reader = csv.DictReader(stream)
        try:
            fields = [f.strip().lower() for f in reader.fieldnames or []]
        except (UnicodeDecodeError, csv.Error) as exc:
            yield Rejection(source, f"cannot read the CSV header ({exc}); save it as UTF-8 CSV with a header row")
            return
        if not set(fields) & set(TEXT_FIELDS):
            yield Rejection(source, f"the CSV has no text column; name one column {', '.join(TEXT_FIELDS)}")
            return
        reader.fieldnames = fields
        while True:
            start = reader.line_num + 1
            where = f"{source}#L{start}"
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                yield Rejection(
                    where,
                    f"bytes that are not {encoding} from line {start} ({exc.reason}); the rest of the file was "
                    "skipped — save it as UTF-8",
                )
                return
            except csv.Error as exc:
                yield Rejection(where, f"row at line {start} cannot be parsed ({exc}); fix the quoting")
                continue
            try:
                yield _record_to_document({k: v for k, v in row.items() if k}, where, max_bytes)
            except BadInputError as exc:
                yield Rejection(_field(row, ("url",)) or where, f"row at line {start}: {exc}")



def count_records(path: Path) -> int:
    """About how many records reading ``path`` gives, found without reading a document, for a progress
    total: one a non-blank line of JSON Lines, one a row of a CSV below its header, one for any other file."""
    name = path.name.lower()
    try:
        if name.endswith((".jsonl", ".jsonl.gz")):
            with gzip.open(path, "rb") if name.endswith(".gz") else open(path, "rb") as stream:
                return max(1, sum(1 for line in stream if line.strip()))
        if name.endswith(".csv"):
            with open(path, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="") as text:
                return max(1, sum(1 for _ in csv.reader(text)) - 1)
    except (OSError, EOFError, zlib.error, csv.Error):
        return 1  # reading it will say what is wrong: one rejection
    return 1
