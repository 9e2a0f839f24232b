"""Turn files into ``RawDocument``s.

``read_path`` never raises for bad input: a file (or, in a collection, a record) that cannot be
read becomes a ``Rejection`` whose reason says what is wrong and what to change.

Single documents: .txt, .md, .html/.htm, .docx, .pdf. Collections, one document per record:
.jsonl, .jsonl.gz, .csv. A single document may be at most ``max_bytes``; a collection streams,
and ``max_bytes`` then limits each record.

Import from here. Inside: ``discovery`` finds the input files, ``formats`` sends each to its
reader (``plain_text``, ``html_pages``, ``docx_pdf``, ``records``), ``decoding`` turns bytes into
text, ``contents`` is where a reader gets the bytes, ``sources`` names what was read.
"""

from qa.ingest.readers.decoding import decode_text, detect_encoding
from qa.ingest.readers.discovery import discover_files, find_inputs
from qa.ingest.readers.formats import SUPPORTED_SUFFIXES, read_named, read_path
from qa.ingest.readers.html_pages import html_to_text
from qa.ingest.readers.records import count_records
from qa.ingest.readers.sources import cited_name, display_name

__all__ = [
    "SUPPORTED_SUFFIXES",
    "cited_name",
    "count_records",
    "decode_text",
    "detect_encoding",
    "discover_files",
    "display_name",
    "find_inputs",
    "html_to_text",
    "read_named",
    "read_path",
]
