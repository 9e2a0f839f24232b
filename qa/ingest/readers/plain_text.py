"""Plain text and Markdown files: decoded whole; a Markdown file's first level-one heading is its title."""

from __future__ import annotations

import re

from qa.ingest.readers.contents import FileContents, read_all
from qa.ingest.readers.decoding import decode_text

_MD_HEADING = re.compile(r"^#{1,6}[ \t]+", re.M)
_MD_TITLE = re.compile(r"^#[ \t]+(.+?)[ \t#]*$", re.M)


def text_document(file: FileContents) -> tuple[str, str | None]:
    """(text, title) of a .txt file: it names no title."""
    return decode_text(read_all(file)), None


def markdown_document(file: FileContents) -> tuple[str, str | None]:
    """(text, title) of a .md file: heading marks go, the first ``# heading`` is the title."""
    text = decode_text(read_all(file))
    title = _MD_TITLE.search(text)
    return _MD_HEADING.sub("", text), title.group(1).strip() if title else None
