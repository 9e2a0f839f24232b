"""The bytes a reader reads: a file on disk, or the contents of one given by name (``read_named``).

Every format reader takes its input through these helpers, so that how much of a file is held in
memory is decided in one place.
"""

from __future__ import annotations

import io
from pathlib import Path

MB = 1024 * 1024

# A file on disk, or the contents of one given by name.
FileContents = Path | bytes


def size_text(n: int) -> str:
    """A size as a rejection states it: megabytes from one megabyte up, bytes below."""
    return f"{n / MB:.1f} MB" if n >= MB else f"{n:,} bytes"


def open_binary(file: FileContents) -> io.BufferedReader:
    return open(file, "rb") if isinstance(file, Path) else io.BufferedReader(io.BytesIO(file))


def read_all(file: FileContents) -> bytes:
    return file.read_bytes() if isinstance(file, Path) else file


def opened_by_library(file: FileContents) -> str | io.BytesIO:
    """What python-docx and pypdf open: the path (as before uploads were read in memory), or the bytes."""
    return str(file) if isinstance(file, Path) else io.BytesIO(file)
