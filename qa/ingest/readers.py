"""Turn files into ``RawDocument``s.

``read_path`` never raises for bad input: a file (or, in a collection, a record) that cannot be
read becomes a ``Rejection`` whose reason says what is wrong and what to change.

Single documents: .txt, .md, .html/.htm, .docx, .pdf. Collections, one document per record:
.jsonl, .jsonl.gz, .csv. A single document may be at most ``max_bytes``; a collection streams,
and ``max_bytes`` then limits each record.
"""

from __future__ import annotations

import codecs
import csv
import errno
import gzip
import html
import io
import json
import os
import re
import stat
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Protocol

from qa.citations import citation_source
from qa.errors import BadInputError
from qa.ingest.dates import normalize_date
from qa.text.normalize import count_common_han, count_han
from qa.types import RawDocument, Rejection

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".docx", ".pdf", ".jsonl", ".jsonl.gz", ".csv")
TITLE_FIELDS = ("title",)
DATE_FIELDS = ("date", "pub_date")
TEXT_FIELDS = ("content", "content_html", "text", "body")

_MB = 1024 * 1024


def _size(n: int) -> str:
    return f"{n / _MB:.1f} MB" if n >= _MB else f"{n:,} bytes"


def display_name(path: Path | str) -> str:
    """``path`` as text that can be stored and printed: bytes of a file name that are not UTF-8
    (kept by Python as lone surrogates) become U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


def find_inputs(paths: Iterable[Path]) -> Iterator[Path | Rejection]:
    """Files named by ``paths``, walking folders recursively in sorted order, and a ``Rejection``
    for every entry of a folder that is skipped, saying why.

    Hidden entries (name starting with ".") inside a folder are skipped: a hidden file or folder
    is reported once, what is inside a hidden folder is not. So are symlinks that lead nowhere or
    to a folder (never followed, so a loop cannot recur), fifos, sockets and devices. A path given
    explicitly is always yielded, even when it does not exist, so that ``read_path`` can report it.
    """
    seen: set[Path] = set()
    for path in paths:
        path = Path(path)
        candidates = sorted(_walk(path)) if path.is_dir() else [(path, None)]
        for candidate, reason in candidates:
            if candidate not in seen:
                seen.add(candidate)
                yield candidate if reason is None else Rejection(display_name(candidate), reason)


def discover_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The files of ``find_inputs``, without the skipped entries."""
    return (found for found in find_inputs(paths) if isinstance(found, Path))


def _walk(folder: Path) -> Iterator[tuple[Path, str | None]]:
    for entry in folder.rglob("*"):
        parts = entry.relative_to(folder).parts
        if any(part.startswith(".") for part in parts[:-1]):
            continue  # inside a hidden folder, which is reported itself
        if parts[-1].startswith("."):
            kind = "folder" if entry.is_dir() and not entry.is_symlink() else "file"
            yield entry, (f"hidden {kind} (its name starts with '.'): skipped; rename it, or name it "
                          "on the command line, to ingest it")
            continue
        if entry.is_dir() and not entry.is_symlink():
            continue  # walked
        yield entry, _not_a_file(entry)


def _not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file (None when it is a regular file or a symlink to one)."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return "file not found; check the path"
    except OSError as exc:
        return f"cannot open: {exc.strerror or exc}"
    if stat.S_ISLNK(mode):
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            return f"a dangling symlink (its target {display_name(os.readlink(path))} does not exist): skipped"
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return "a symlink loop (the link leads back to itself): skipped; remove or fix the link"
            return f"a symlink that cannot be followed ({exc.strerror or exc}): skipped"
        if stat.S_ISDIR(mode):
            return ("a symlink to a folder: skipped (links to folders are not followed, so that a loop cannot "
                    "recur); name the folder itself to ingest it")
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder, not a file; name the folder itself to ingest what it holds"
    kind = "a named pipe (fifo)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"{kind}, not a regular file: skipped; copy the document into a file to ingest it"


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".jsonl.gz" if name.endswith(".jsonl.gz") else path.suffix.lower()


def read_path(path: Path, *, max_bytes: int = 20 * _MB) -> Iterator[RawDocument | Rejection]:
    """Read one file into documents, or say why it cannot be read.

    Args:
        path: a file with one of ``SUPPORTED_SUFFIXES``.
        max_bytes: largest single document (for .jsonl/.jsonl.gz/.csv: largest record).

    Returns:
        An iterator of ``RawDocument`` and ``Rejection``: one item for a single document; one
        per record for a collection, where a bad record is rejected and the rest go through.
    """
    path = Path(path)
    source = display_name(path)
    suffix = _suffix(path)
    if suffix not in SUPPORTED_SUFFIXES:
        yield _unsupported(source, suffix)
        return
    problem = _not_a_file(path)
    if problem is not None:
        yield Rejection(source, problem)
        return
    try:
        size = path.stat().st_size
    except OSError as exc:
        yield Rejection(source, f"cannot open: {exc.strerror or exc}")
        return
    yield from _read_contents(path, source, suffix, size, max_bytes)


def read_named(name: str, data: bytes, *, max_bytes: int = 20 * _MB) -> Iterator[RawDocument | Rejection]:
    """Read a file given as its name and contents (an upload) as ``read_path`` reads one on disk.

    Nothing is written anywhere: the file is read from ``data`` and cited by ``cited_name(name)``,
    so a name such as ``../../etc/x.txt`` names nothing on disk and is cited as ``x.txt``.
    """
    source = cited_name(name)
    suffix = _suffix(Path(source))
    if suffix not in SUPPORTED_SUFFIXES:
        yield _unsupported(source, suffix)
        return
    yield from _read_contents(data, source, suffix, len(data), max_bytes)


_UNSAFE_NAME = re.compile(r"[^\w.\-]+")


def cited_name(filename: str) -> str:
    """How a file known only by a name someone sent is cited: its base name, directories and odd characters dropped."""
    return _UNSAFE_NAME.sub("_", citation_source(filename)).strip("._")[:120] or "upload"


# A file on disk, or the contents of one given by name (read_named).
_File = Path | bytes


def _unsupported(source: str, suffix: str) -> Rejection:
    shown = f"'{suffix}'" if suffix else "no extension"
    return Rejection(
        source,
        f"unsupported file type ({shown}); supported: {', '.join(SUPPORTED_SUFFIXES)}. "
        "Convert the file to one of these or rename it if the extension is wrong",
    )


def _read_contents(file: _File, source: str, suffix: str, size: int,
                   max_bytes: int) -> Iterator[RawDocument | Rejection]:
    if size == 0:
        yield Rejection(source, "empty file (0 bytes); remove it or export the document again")
        return
    if suffix in (".jsonl", ".jsonl.gz", ".csv"):
        yield from _read_collection(file, source, suffix, max_bytes)
        return
    if size > max_bytes:
        yield Rejection(
            source,
            f"file is {_size(size)}, over the {_size(max_bytes)} limit; split it into smaller files or raise max_bytes",
        )
        return
    try:
        yield _read_single(file, source, suffix)
    except BadInputError as exc:
        yield Rejection(source, str(exc))
    except OSError as exc:
        yield Rejection(source, f"cannot read the file: {exc}")


def _binary(file: _File) -> io.BufferedReader:
    return open(file, "rb") if isinstance(file, Path) else io.BufferedReader(io.BytesIO(file))


def _bytes(file: _File) -> bytes:
    return file.read_bytes() if isinstance(file, Path) else file


def _opened_by_library(file: _File) -> str | io.BytesIO:
    """What python-docx and pypdf open: the path (as before uploads were read in memory), or the bytes."""
    return str(file) if isinstance(file, Path) else io.BytesIO(file)


def _read_single(file: _File, source: str, suffix: str) -> RawDocument:
    if suffix == ".docx":
        text, title = _docx_text(file), None
    elif suffix == ".pdf":
        text, title = _pdf_text(file), None
    elif suffix in (".html", ".htm"):
        text, title = _html_document(_bytes(file))
    else:
        text = decode_text(_bytes(file))
        title = None
        if suffix == ".md":
            text, title = _markdown_text(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise BadInputError("no text found in the file; check that it is not blank")
    return RawDocument(text=text, source=source, title=title)


# --- text decoding -------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_LEGACY_CJK = ("gb18030", "big5hkscs")


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    return len(_CONTROL_CHARS.findall(sample)) > max(8, len(sample) // 10)


def _cjk_quality(text: str) -> float:
    """Share of ideographs that are everyday characters (1.0 when there are none)."""
    han = count_han(text)
    return count_common_han(text) / han if han else 1.0


def _decode_prefix(data: bytes, encoding: str, complete: bool) -> str | None:
    """``data`` decoded strictly, or None; when not ``complete`` a cut last character is allowed."""
    try:
        return codecs.getincrementaldecoder(encoding)().decode(data, final=complete)
    except UnicodeDecodeError:
        return None


def detect_encoding(data: bytes, *, complete: bool = True) -> str:
    """The codec ``data`` is written in.

    Strict UTF-8 first (with or without BOM), then UTF-16/32 by their byte-order mark, then
    GB18030 or Big5, whichever decodes cleanly into more everyday characters, then whatever
    charset-normalizer finds. ``complete=False`` means ``data`` is the head of a longer file.
    Raises BadInputError for binary data and for bytes no codec fits.
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if _decode_prefix(data, "utf-8", complete) is not None:
        return "utf-8"
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    if b"\x00" in data[:65536]:
        raise BadInputError(
            "looks like a binary file (contains NUL bytes); if it is UTF-16 text, save it with a "
            "byte-order mark or as UTF-8"
        )
    candidates = []
    for encoding in _LEGACY_CJK:
        text = _decode_prefix(data, encoding, complete)
        if text is not None:
            candidates.append((_cjk_quality(text), count_han(text), encoding))
    if candidates:
        quality, han, encoding = max(candidates)
        if quality >= 0.6 or not han:
            return encoding
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None and best.chaos <= 0.2 and _cjk_quality(str(best)) >= 0.6:
        return best.encoding
    raise BadInputError(
        "cannot work out the text encoding (not UTF-8, GB18030 or Big5, and no other encoding "
        "fits cleanly); save the file as UTF-8"
    )


def decode_text(data: bytes) -> str:
    """Decode a whole text file (see ``detect_encoding``); BadInputError when it is not text."""
    encoding = detect_encoding(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise BadInputError(f"does not decode as {encoding} ({exc.reason}); save it as UTF-8") from None
    if _looks_binary(text):
        raise BadInputError("looks like a binary file (mostly control characters), not text")
    return text.removeprefix("\ufeff")


# --- HTML ----------------------------------------------------------------------------------

# Page chrome: elements whose content is never the document's text.
_CHROME_ELEMENTS = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "iframe", "svg")
_DROPPED_ELEMENTS = re.compile(rf"<({'|'.join(_CHROME_ELEMENTS)})\b[^>]*>.*?</\1\s*>", re.S | re.I)
_BLOCK_TAG = re.compile(
    r"<\s*/?\s*(?:p|br|div|li|ul|ol|h[1-6]|tr|table|section|article|blockquote|pre|dd|dt|hr)\b[^>]*>",
    re.I,
)
# Only real tags: a '<' followed by a letter, '/' or '!'. Chinese text on some sites writes
# book titles as <政府工作报告>, which must stay text.
_ANY_TAG = re.compile(r"<!--.*?-->|<![^>]*>|</?[A-Za-z][^>]*>", re.S)
_LOOKS_LIKE_HTML = re.compile(r"</?[A-Za-z][A-Za-z0-9]*\b[^>]*>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_SPACE_AROUND_NEWLINE = re.compile(r"[ \t\r\f\v\xa0]*\n\s*")
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_-]+)", re.I)


def html_to_text(markup: str) -> str:
    """Text of an HTML fragment: block tags and ``<br>`` become line breaks, other tags go,
    entities are unescaped, and one newline separates paragraphs."""
    markup = _DROPPED_ELEMENTS.sub("", markup)
    markup = _BLOCK_TAG.sub("\n", markup)
    text = html.unescape(_ANY_TAG.sub("", markup))
    return _SPACE_AROUND_NEWLINE.sub("\n", text).strip()


def _decode_html(data: bytes) -> str:
    declared = _META_CHARSET.search(data[:4096])
    if declared:
        name = declared.group(1).decode("ascii").lower()
        name = {"gb2312": "gb18030", "gbk": "gb18030", "big5": "big5hkscs"}.get(name, name)
        try:
            return data.decode(name)
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration is common; detect instead
    return decode_text(data)


_SITE_NAME_SEPARATOR = re.compile(r"\s*(?:_|\||｜|\s[-–—]\s)\s*")


def _html_document(data: bytes) -> tuple[str, str | None]:
    """Main text and title of a page: chrome elements go; the text is the page's only
    <article>, else its <main>, else its <body>; the title is its <h1>, else its <title>
    without the site name after "_", "|" or " - "."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(_decode_html(data))
    page_title = tree.css_first("title")
    tree.strip_tags(list(_CHROME_ELEMENTS))
    heading = tree.css_first("h1")
    title = " ".join(heading.text().split()) if heading is not None else ""
    if not title and page_title is not None:
        title = _SITE_NAME_SEPARATOR.split(" ".join(page_title.text().split()))[0]
    articles = tree.css("article")
    root = articles[0] if len(articles) == 1 else tree.css_first("main") or tree.body or tree.root
    return (html_to_text(root.html or "") if root is not None else ""), title or None


# --- other single-document formats ----------------------------------------------------------

_MD_HEADING = re.compile(r"^#{1,6}[ \t]+", re.M)
_MD_TITLE = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.M)


def _markdown_text(text: str) -> tuple[str, str | None]:
    title = _MD_TITLE.search(text)
    return _MD_HEADING.sub("", text), title.group(1).strip() if title else None


def _docx_text(file: _File) -> str:
    import docx

    try:
        document = docx.Document(_opened_by_library(file))
        lines = [p.text for p in document.paragraphs]
        for table in document.tables:
            for row in table.rows:
                lines.append("\t".join(cell.text for cell in row.cells))
    except Exception as exc:  # python-docx raises many types for a damaged file
        raise BadInputError(
            f"not a readable .docx ({type(exc).__name__}: {exc}); open and re-save it in Word or "
            "LibreOffice as .docx (old .doc files must be converted)"
        ) from None
    return "\n".join(lines)


def _pdf_text(file: _File) -> str:
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged-but-readable files warn a lot
    try:
        reader = PdfReader(_opened_by_library(file), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise BadInputError("the PDF is password-protected; remove the password and try again")
        pages = [page.extract_text() or "" for page in reader.pages]
    except BadInputError:
        raise
    except Exception as exc:  # pypdf raises many types for a damaged file
        raise BadInputError(f"not a readable PDF ({type(exc).__name__}: {exc}); re-export or repair it") from None
    text = "\n".join(pages)
    if not text.strip():
        raise BadInputError(
            f"the PDF has no text layer ({len(pages)} page(s) of images?); run OCR on it first "
            "(for example with ocrmypdf) and read the result"
        )
    return text


# --- collections -------------------------------------------------------------------------------


def _field(record: Mapping[str, object], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = record.get(name)
        if value is not None and not isinstance(value, (dict, list)):
            text = str(value).strip()
            if text:
                return text
    return None


def _plain(value: str) -> str:
    return html_to_text(value) if _LOOKS_LIKE_HTML.search(value) else value


def _record_to_document(record: Mapping[str, object], fallback_source: str, max_bytes: int) -> RawDocument:
    """One collection record as a document; BadInputError says why it is not one."""
    body = _field(record, TEXT_FIELDS)
    if body is None:
        raise BadInputError(f"record has no text; put it in one of the fields {', '.join(TEXT_FIELDS)}")
    if len(body) > max_bytes:
        raise BadInputError(f"record text is over the {_size(max_bytes)} limit; split it or raise max_bytes")
    body = _plain(body)
    title = _field(record, TITLE_FIELDS)
    title = " ".join(_plain(title).split()) if title else None
    subtitle = _field(record, ("subtitle",))
    if subtitle:
        subtitle = " ".join(_plain(subtitle).split())
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


def _read_collection(file: _File, source: str, suffix: str, max_bytes: int) -> Iterator[RawDocument | Rejection]:
    try:
        if suffix == ".csv":
            yield from _read_csv(file, source, max_bytes)
        else:
            with _binary(file) as raw, (gzip.open(raw, "rb") if suffix == ".jsonl.gz" else nullcontext(raw)) as stream:
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
    if text.count("\ufffd") + len(_CONTROL_CHARS.findall(text)) > max(8, len(text) // 10):
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
                line = stream.readline(_MB)
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
                where, f"line {number} is over the {_size(max_bytes)} limit; split the record or raise max_bytes"
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


def _read_csv(file: _File, source: str, max_bytes: int) -> Iterator[RawDocument | Rejection]:
    with _binary(file) as raw:
        head = raw.read(64 * 1024)
    try:
        encoding = detect_encoding(head, complete=len(head) < 64 * 1024)
    except BadInputError as exc:
        yield Rejection(source, str(exc))
        return
    with io.TextIOWrapper(_binary(file), encoding=encoding, newline="", errors="strict") as stream:
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


__all__ = [
    "SUPPORTED_SUFFIXES",
    "cited_name",
    "decode_text",
    "detect_encoding",
    "discover_files",
    "display_name",
    "find_inputs",
    "html_to_text",
    "read_named",
    "read_path",
]
