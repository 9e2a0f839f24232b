"""The names ingest stores a document under: a file's path made printable, an upload's sent name made safe."""

from __future__ import annotations

import os
import re
from pathlib import Path

from qa.citations import citation_source


def display_name(path: Path | str) -> str:
    """``path`` as text that can be stored and printed: bytes of a file name that are not UTF-8
    (kept by Python as lone surrogates) become U+FFFD."""
    return os.fsencode(path).decode("utf-8", "replace")


_UNSAFE_NAME = re.compile(r"[^\w.\-]+")
_EXTENSION = re.compile(r"(?:\.jsonl)?\.[A-Za-z0-9]{1,8}$")
MAX_CITED_NAME = 120


def cited_name(filename: str) -> str:
    """How a file known only by a name someone sent is cited: its base name, directories and odd characters
    dropped, cut to MAX_CITED_NAME characters before its extension, which tells its type."""
    name = _UNSAFE_NAME.sub("_", citation_source(filename)).strip("._") or "upload"
    if len(name) <= MAX_CITED_NAME:
        return name
    found = _EXTENSION.search(name)
    extension = found.group(0) if found else ""
    return name[: MAX_CITED_NAME - len(extension)].rstrip("._") + extension
