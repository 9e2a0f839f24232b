"""How a citation names a document's source: a URL as it is, a file by its name, a site or file as a facet counts it."""

from __future__ import annotations

import functools
import os
import re
from urllib.parse import urlsplit

# What ends a folder in a path read on this machine: on Linux only "/" does, and a backslash is an
# ordinary character of a file name (b67_backslash..\..\evil.txt is one file).
_PATH_SEPARATORS = "".join(sep for sep in {"/", os.sep, os.altsep} if sep)
# A path a Windows machine read (C:\speeches\..., \\server\share\...): there a backslash ends a folder.
_WINDOWS_PATH = re.compile(r"[A-Za-z]:\\|\\\\")


def _base_name(name: str, separators: str) -> str:
    cut = max(name.rfind(sep) for sep in separators)
    return name[cut + 1 :] or name


def citation_source(source: str) -> str:
    """What a citation shows of a source: a URL as it is, a file by its name alone (folders are
    private to the machine that read the file)."""
    if "://" in source:
        return source
    return _base_name(source, "/\\" if _WINDOWS_PATH.match(source) else _PATH_SEPARATORS)


def uploaded_file_name(name: str) -> str:
    """The file name in a name a client sent with an upload: a browser on Windows may send a whole
    path (C:\\Users\\alice\\講話.docx), so there either separator ends a folder."""
    return _base_name(name, "/\\")


@functools.lru_cache(maxsize=4096)
def source_group(source: str | None) -> str | None:
    """What a source facet counts: the site of a URL, the file of anything else (a record's line number dropped).

    A collection of web pages has one source per document; its site is what one filters by. Remembered:
    a search's facets ask it for every candidate, and the same sources come back search after search.
    """
    if not source:
        return None
    if "://" in source:
        return urlsplit(source).netloc or source
    return citation_source(source).split("#", 1)[0] or None
