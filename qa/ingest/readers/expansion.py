"""What a compressed file expands to, found without expanding more of it than the size limit allows.

A .docx is a zip, a .jsonl.gz a gzip stream: a few megabytes sent can hold gigabytes (a decompression
bomb). The limit on a file's size bounds what is decompressed and parsed, not only the bytes sent.
"""

from __future__ import annotations

import gzip
import io
import zipfile
import zlib
from pathlib import Path

from qa.errors import BadInputError
from qa.ingest.readers.contents import FileContents, open_binary, size_text

_READ_BLOCK = 1024 * 1024


def docx_expanded_size(file: FileContents) -> int:
    """The bytes a .docx's parts hold once unzipped, as its zip directory states them.

    A zip member is never read past the size its directory states (zipfile stops there and fails the CRC
    check), so the stated sizes bound what python-docx can decompress.
    """
    try:
        with zipfile.ZipFile(open_binary(file)) as archive:
            return sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise BadInputError(f"not a readable .docx ({type(exc).__name__}: {exc}); open and re-save it in Word or "
                            "LibreOffice as .docx (old .doc files must be converted)") from None


# What a .docx may expand to beyond its own size, at the least: Word's own parts (styles, themes, fonts) take
# a megabyte or two whatever the document holds, so even a small size limit lets them through.
DOCX_EXPANSION_FLOOR = 16 * 1024 * 1024


def check_docx_expansion(file: FileContents, max_bytes: int) -> None:
    """BadInputError when a .docx expands by more than the size limit beyond its own size.

    Its images are compressed already and hardly expand; its XML, which python-docx parses whole, can
    expand a thousandfold.
    """
    size = file.stat().st_size if isinstance(file, Path) else len(file)
    allowance = max(max_bytes, DOCX_EXPANSION_FLOOR)
    expanded = docx_expanded_size(file)
    if expanded > size + allowance:
        raise BadInputError(f"the .docx expands to {size_text(expanded)} once unzipped, more than "
                            f"{size_text(allowance)} beyond its own size ({size_text(max_bytes)} limit); split the "
                            "document, or check that it is the document itself")


def gunzipped(data: bytes, max_bytes: int) -> tuple[bytes, str | None]:
    """A gzip file's contents, decompressed a block at a time, and why they end early (damaged data) or None.

    Raises BadInputError as soon as the contents pass `max_bytes`: the file is then refused whole.
    """
    out = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            while block := stream.read(min(_READ_BLOCK, max_bytes + 1 - out.tell())):
                out.write(block)
                if out.tell() > max_bytes:
                    raise BadInputError(
                        f"the .jsonl.gz expands to more than {size_text(max_bytes)} once decompressed, over the "
                        f"{size_text(max_bytes)} limit of an upload; send it in parts, or ingest it with `speechqa ingest`")
    except (OSError, EOFError, zlib.error) as exc:
        return out.getvalue(), (f"cannot read the gzip data ({exc}); the rest of the file was skipped — "
                                "re-create or re-download it")
    return out.getvalue(), None


def expanded_size(name: str, data: bytes, max_bytes: int) -> int:
    """About how many bytes an upload holds once decompressed: what decides whether it is added at once or by
    a job. A file its reader will reject (unreadable, or expanding past `max_bytes`) counts as sent."""
    lowered = name.lower()
    try:
        if lowered.endswith(".docx"):
            return max(docx_expanded_size(data), len(data))
        if lowered.endswith(".gz"):
            return len(gunzipped(data, max_bytes)[0])
    except BadInputError:
        return len(data)  # its reader rejects it, quickly
    return len(data)
