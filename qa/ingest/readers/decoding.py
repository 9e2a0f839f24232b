"""Bytes to text: which encoding a file is in (UTF-8, UTF-16/32 by their mark, GB18030 or Big5, else
what charset-normalizer finds), and whether it is text at all."""

from __future__ import annotations

import codecs
import re

from qa.errors import BadInputError
from qa.text.normalize import count_common_han, count_han

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Control characters besides tab and the line breaks: text has few, binary data many.
CONTROL_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_LEGACY_CJK = ("gb18030", "big5hkscs")


def _looks_binary(text: str) -> bool:
    sample = text[:4096]
    return len(CONTROL_CHARS.findall(sample)) > max(8, len(sample) // 10)


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
