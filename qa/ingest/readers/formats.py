"""Which reader reads a file: by its suffix, after the checks every format shares (a regular file,
not empty, within the size limit of a single document)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from qa.errors import BadInputError
from qa.ingest.readers.contents import MB, FileContents, size_text
from qa.ingest.readers.discovery import not_a_file
from qa.ingest.readers.docx_pdf import docx_document, pdf_document
from qa.ingest.readers.expansion import check_docx_expansion, gunzipped
from qa.ingest.readers.html_pages import html_document
from qa.ingest.readers.plain_text import markdown_document, text_document
from qa.ingest.readers.records import COLLECTION_SUFFIXES, read_collection
from qa.ingest.readers.sources import cited_name, display_name
from qa.types import RawDocument, Rejection

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".docx", ".pdf", ".jsonl", ".jsonl.gz", ".csv")

# A single document's reader gives its text and the title it names (None when it names none).
_SINGLE_DOCUMENT_READERS: dict[str, Callable[[FileContents], tuple[str, str | None]]] = {
    ".txt": text_document,
    ".md": markdown_document,
    ".html": html_document,
    ".htm": html_document,
    ".docx": docx_document,
    ".pdf": pdf_document,
}


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".jsonl.gz" if name.endswith(".jsonl.gz") else path.suffix.lower()


def read_path(path: Path, *, max_bytes: int = 20 * MB) -> Iterator[RawDocument | Rejection]:
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
    problem = not_a_file(path)
    if problem is not None:
        yield Rejection(source, problem)
        return
    try:
        size = path.stat().st_size
    except OSError as exc:
        yield Rejection(source, f"cannot open: {exc.strerror or exc}")
        return
    yield from _read_contents(path, source, suffix, size, max_bytes)


def read_named(name: str, data: bytes, *, max_bytes: int = 20 * MB) -> Iterator[RawDocument | Rejection]:
    """Read a file given as its name and contents (an upload) as ``read_path`` reads one on disk.

    Nothing is written anywhere: the file is read from ``data`` and cited by ``cited_name(name)``,
    so a name such as ``../../etc/x.txt`` names nothing on disk and is cited as ``x.txt``.
    """
    source = cited_name(name)
    suffix = _suffix(Path(source))
    if suffix not in SUPPORTED_SUFFIXES:
        yield _unsupported(source, suffix)
        return
    if suffix != ".jsonl.gz" or not data:
        yield from _read_contents(data, source, suffix, len(data), max_bytes)
        return
    # Held in memory, an upload's collection may expand to what one sent uncompressed could hold.
    try:
        expanded, damage = gunzipped(data, max_bytes)
    except BadInputError as exc:
        yield Rejection(source, str(exc))
        return
    if expanded:
        yield from _read_contents(expanded, source, ".jsonl", len(expanded), max_bytes)
    if damage is not None or not expanded:
        yield Rejection(source, damage or "empty file once decompressed; remove it or export the collection again")


def _unsupported(source: str, suffix: str) -> Rejection:
    shown = f"'{suffix}'" if suffix else "no extension"
    return Rejection(
        source,
        f"unsupported file type ({shown}); supported: {', '.join(SUPPORTED_SUFFIXES)}. "
        "Convert the file to one of these or rename it if the extension is wrong",
    )


def _read_contents(file: FileContents, source: str, suffix: str, size: int,
                   max_bytes: int) -> Iterator[RawDocument | Rejection]:
    if size == 0:
        yield Rejection(source, "empty file (0 bytes); remove it or export the document again")
        return
    if suffix in COLLECTION_SUFFIXES:
        yield from read_collection(file, source, suffix, max_bytes)
        return
    if size > max_bytes:
        yield Rejection(
            source,
            f"file is {size_text(size)}, over the {size_text(max_bytes)} limit; split it into smaller files or raise max_bytes",
        )
        return
    try:
        yield _read_single(file, source, suffix, max_bytes)
    except BadInputError as exc:
        yield Rejection(source, str(exc))
    except OSError as exc:
        yield Rejection(source, f"cannot read the file: {exc}")


def _read_single(file: FileContents, source: str, suffix: str, max_bytes: int) -> RawDocument:
    if suffix == ".docx":  # a zip: what it expands to must fit the limit too
        check_docx_expansion(file, max_bytes)
    text, title = _SINGLE_DOCUMENT_READERS[suffix](file)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise BadInputError("no text found in the file; check that it is not blank")
    return RawDocument(text=text, source=source, title=title)
