"""How a citation names a document's source: a URL as it is, a file by its name, a site or file as a facet counts it."""

from __future__ import annotations

from urllib.parse import urlsplit


def citation_source(source: str) -> str:
    """What a citation shows of a source: a URL as it is, a file by its name alone, after either
    separator (folders are private to the machine that read the file)."""
    if "://" in source:
        return source
    return source.replace("\\", "/").rsplit("/", 1)[-1] or source


def source_group(source: str | None) -> str | None:
    """What a source facet counts: the site of a URL, the file of anything else (a record's line number dropped).

    A collection of web pages has one source per document; its site is what one filters by.
    """
    if not source:
        return None
    if "://" in source:
        return urlsplit(source).netloc or source
    return citation_source(source).split("#", 1)[0] or None
