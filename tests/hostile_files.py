"""Hostile uploads, built on the fly: small to send and huge to read, or cheap to send and slow to parse.

The decompression bombs are written straight as deflate streams: a block of repeated bytes compressed
after a full flush compresses alike every time, so a gigabyte costs one block's compression, not the
gigabyte's (about a second to build, most of it the CRC).
"""

from __future__ import annotations

import gzip
import io
import json
import struct
import zlib

import numpy as np

MB = 1024 * 1024
_UNIT = MB  # the repeated block: 1 MB of one byte deflates to about 1 KB
_DEFLATE_END = b"\x03\x00"  # an empty final block


def _deflated(data: bytes) -> bytes:
    """`data` as a deflate segment that ends on a byte boundary with an empty history (a full flush)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH)


def repeated_deflate(head: bytes, unit: bytes, repeats: int, tail: bytes) -> tuple[bytes, int, int]:
    """(raw deflate stream, CRC-32, size) of head + unit × repeats + tail."""
    crc = zlib.crc32(head)
    for _ in range(repeats):
        crc = zlib.crc32(unit, crc)
    crc = zlib.crc32(tail, crc)
    stream = _deflated(head) + _deflated(unit) * repeats + _deflated(tail) + _DEFLATE_END
    return stream, crc, len(head) + len(unit) * repeats + len(tail)


def zip_archive(entries: list[tuple[str, bytes]], bombs: dict[str, tuple[bytes, bytes, int, bytes]] | None = None) -> bytes:
    """A zip of small `entries` (name, contents) and `bombs` (name → head, unit, repeats, tail), deflated."""
    members = [(name, _deflated(data) + _DEFLATE_END, zlib.crc32(data), len(data)) for name, data in entries]
    members += [(name, *repeated_deflate(*parts)) for name, parts in (bombs or {}).items()]
    out, directory = io.BytesIO(), []
    for name, stream, crc, size in members:
        encoded = name.encode()
        offset = out.tell()
        # version 2.0, no flags, deflate, no time; sizes below 4 GB need no zip64
        fields = struct.pack("<HHHHHIII", 20, 0, 8, 0, 0x21, crc, len(stream), size)
        out.write(b"PK\x03\x04" + fields + struct.pack("<HH", len(encoded), 0) + encoded + stream)
        directory.append(b"PK\x01\x02" + struct.pack("<H", 20) + fields
                         + struct.pack("<HHHHHII", len(encoded), 0, 0, 0, 0, 0, offset) + encoded)
    start = out.tell()
    for record in directory:
        out.write(record)
    out.write(b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(members), len(members), out.tell() - start, start, 0))
    return out.getvalue()


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/><Default Extension="png" ContentType="image/png"/>'
    b'<Override PartName="/word/document.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{_R}/officeDocument" Target="word/document.xml"/></Relationships>'
).encode()
_IMAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    f'<Relationship Id="rId9" Type="{_R}/image" Target="media/image1.png"/></Relationships>'
).encode()
_DOCUMENT_HEAD = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{_W}"><w:body>'.encode()
_DOCUMENT_TAIL = b"</w:body></w:document>"


def paragraph_xml(text: str) -> bytes:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>".encode()


def docx(paragraphs: list[str]) -> bytes:
    """A small, valid .docx holding these paragraphs."""
    body = b"".join(paragraph_xml(text) for text in paragraphs)
    return zip_archive([("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _PACKAGE_RELS),
                        ("word/document.xml", _DOCUMENT_HEAD + body + _DOCUMENT_TAIL)])


def docx_with_huge_text_node(expanded: int) -> bytes:
    """A .docx whose one text node holds `expanded` bytes of one letter (about expanded / 1000 sent)."""
    head = _DOCUMENT_HEAD + b"<w:p><w:r><w:t>"
    return zip_archive([("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _PACKAGE_RELS)],
                       {"word/document.xml": (head, b"A" * _UNIT, expanded // _UNIT, b"</w:t></w:r></w:p>" + _DOCUMENT_TAIL)})


def docx_with_huge_image(text: str, expanded: int) -> bytes:
    """A readable .docx whose document refers to an image part of `expanded` zero bytes: a zip bomb in a docx."""
    body = _DOCUMENT_HEAD + paragraph_xml(text) + _DOCUMENT_TAIL
    return zip_archive([("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _PACKAGE_RELS),
                        ("word/document.xml", body), ("word/_rels/document.xml.rels", _IMAGE_RELS)],
                       {"word/media/image1.png": (b"\x89PNG\r\n\x1a\n", b"\0" * _UNIT, expanded // _UNIT, b"")})


def gzip_of_repeated_records(record: dict, expanded: int) -> bytes:
    """A .jsonl.gz of one record repeated until the text is `expanded` bytes long."""
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
    unit = line * max(_UNIT // len(line), 1)
    stream, crc, size = repeated_deflate(b"", unit, max(expanded // len(unit), 1), b"")
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # deflate, no name, no time, maximum compression, unknown OS
    return header + stream + struct.pack("<II", crc, size & 0xFFFFFFFF)


def random_han_line(size: int, seed: int = 25) -> bytes:
    """`size` bytes of UTF-8: random CJK ideographs on one line, no punctuation, no line break."""
    points = np.random.default_rng(seed).integers(0x4E00, 0x9FA5, size // 3, dtype=np.uint32)
    return points.astype("<u4").tobytes().decode("utf-32-le").encode()


def distinct_speech(seed: int, chars: int = 300) -> str:
    """A short text that shares no wording with another seed's (so that no near-duplicate check joins them)."""
    return "同志们：" + random_han_line(3 * chars, seed).decode() + "。"


def rejected_jsonl(size: int) -> bytes:
    """`size` bytes of JSON Lines whose every record has no text, so that each is rejected."""
    line = b'{"title": "x"}\n'
    return line * (size // len(line))


def tiny_records_jsonl(count: int) -> bytes:
    """`count` JSON Lines records, each a distinct short speech (enough text to be kept)."""
    lines = (json.dumps({"title": f"第{n}号", "date": "2024-01-01",
                         "text": f"第{n}次会议上，主席说我们要坚持发展第{n}条路线，继续推进改革开放。"}, ensure_ascii=False)
             for n in range(count))
    return ("\n".join(lines) + "\n").encode()


def nested_html(levels: int, text: str) -> bytes:
    """A page whose text lies `levels` elements deep."""
    return b"<html><body>" + b"<div>" * levels + f"<p>{text}</p>".encode() + b"</div>" * levels + b"</body></html>"


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)
