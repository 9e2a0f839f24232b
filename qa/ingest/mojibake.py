"""Repair of text decoded with the wrong codec or short of a byte (a cleaning rule each, run by ``clean_text``).

GBK text read as UTF-8 (or cp1252), and GBK streams that lost a byte, leave runs of rare ideographs,
private-use characters and question marks; these rules decode such a run back where the bytes allow.
"""

from __future__ import annotations

import codecs
import functools
import re
from dataclasses import dataclass

from qa.text.normalize import (
    HAN,
    HAN_COMPATIBILITY,
    HAN_EXTENSION_A,
    common_han_chars,
    count_common_han,
    count_han,
    to_simplified,
)
from qa.text.tokens import segmenter

__all__ = ["repair_lost_byte_runs", "repair_wrong_codec_runs"]

# CJK symbols and punctuation, full-width forms, and the curly quotes / ellipsis / dashes that
# Chinese text shares with Western typography (as qa.ingest.cleaning has them).
_CJK_PUNCT = "\u3001-\u3003\u3008-\u3011\u3014-\u301f\uff01-\uff65“”‘’…—·"
_CJK = HAN + _CJK_PUNCT
_HAN_CHAR = re.compile(f"[{HAN}]")


def _uncommon_han(text: str) -> int:
    return count_han(text) - count_common_han(text)


@functools.lru_cache(maxsize=1)
def _suspect_char() -> re.Pattern[str]:
    """Any character that wrong-codec decoding tends to produce: a rare ideograph, a
    private-use character, the euro sign or U+FFFD."""
    common = common_han_chars()
    ranges: list[tuple[int, int]] = []
    for cp in range(0x4E00, 0xA000):  # HAN_BASIC
        if chr(cp) in common:
            continue
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    rare = "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)
    return re.compile(f"[{rare}{HAN_EXTENSION_A}{HAN_COMPATIBILITY}\ue000-\uf8ff€\ufffd]")


# --- mojibake: text decoded with the wrong codec -------------------------------------------

_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f\s]{2,}")
_CP1252_RUN = re.compile(
    "[\u00c0-\u00ff][\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]{1,}"
)
_LATIN1_LETTER = re.compile("[\u00c0-\u00ff]")
_ALLOWED_PUNCT = frozenset("“”‘’、。，：；！？（）《》【】「」『』…—·〈〉")


def _gbk_bytes(text: str) -> bytes | None:
    """``text`` re-encoded as the GBK bytes it was decoded from (cp936 maps 0x80 to the euro sign)."""
    try:
        return b"\x80".join(part.encode("gbk") for part in text.split("€"))
    except UnicodeEncodeError:
        return None


def _plausible(text: str) -> bool:
    """True when every character is ASCII, an everyday ideograph or ordinary CJK punctuation."""
    common = common_han_chars()
    return all(ch.isascii() or ch in common or ch in _ALLOWED_PUNCT for ch in text)


def _utf8_lenient(data: bytes) -> str | None:
    """Decode UTF-8 that may have lost a byte at either end; None when the middle is not UTF-8."""
    start = 0
    while start < min(3, len(data)) and 0x80 <= data[start] <= 0xBF:
        start += 1  # continuation bytes whose lead byte was lost
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        return decoder.decode(data[start:], final=False)  # drops an incomplete last character
    except UnicodeDecodeError:
        return None


def _unmojibake_gbk(run: str) -> str | None:
    """Repair UTF-8 text that was decoded as GBK, or None when ``run`` is not such text."""
    pieces = [p for p in run.split("\ufffd") if p]
    repaired = []
    for piece in pieces:
        data = _gbk_bytes(piece)
        decoded = _utf8_lenient(data) if data else None
        if not decoded or not _plausible(decoded):
            return None
        repaired.append(decoded)
    return "".join(repaired)


def _repair_non_ascii_run(match: re.Match[str]) -> str:
    run = match.group()
    if not _suspect_char().search(run):
        return run  # ordinary text: nothing rare, nothing to repair
    # The run may carry correct text on either side of the garbled part: try a few trims.
    for left in range(3):
        for right in range(3):
            core = run[left : len(run) - right]
            if len(core) < 2:
                continue
            repaired = _unmojibake_gbk(core)
            if repaired is not None and count_han(repaired) >= 1:
                return run[:left] + repaired + run[len(run) - right :]
    return run


def _cp1252_bytes(text: str) -> bytes | None:
    """The bytes a cp1252 (or Latin-1, for its C1 gaps) decoder turned into ``text``."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            if ord(ch) > 0xFF:
                return None
            out.append(ord(ch))
    return bytes(out)


def _repair_cp1252_run(match: re.Match[str]) -> str:
    run = match.group()
    data = _cp1252_bytes(run)
    repaired = _utf8_lenient(data) if data else None
    if repaired and count_han(repaired) and _plausible(repaired):
        return repaired
    return run


def repair_wrong_codec_runs(text: str) -> str:
    """Re-decode runs of UTF-8 that were decoded as GBK (``鍦ㄥ叏闀``) or as cp1252 (``ä¸­``).

    A run is replaced only when its bytes round-trip into UTF-8 made of everyday characters,
    so real text full of rare names is left alone.
    """
    if _suspect_char().search(text):
        text = _NON_ASCII_RUN.sub(_repair_non_ascii_run, text)
    if _LATIN1_LETTER.search(text):
        text = _CP1252_RUN.sub(_repair_cp1252_run, text)
    return text


# A GBK byte stream that lost a byte: the lost byte shows as '?' (or U+FFFD), and every
# character after it is glued from the wrong pair of bytes until a one-byte character (ASCII,
# or 0x80 shown as '€') re-aligns the stream. '!' inside the marks is a folded '！' (A3 A1).
_LOST_BYTE = re.compile(f"(?P<marks>[?\ufffd][?!\ufffd]*)(?P<tail>[{HAN}]*)(?P<end>[A-Za-z€](?![A-Za-z]))?")
_CJK_CHAR = re.compile(f"[{_CJK}]")
_GBK_INCREMENTAL = codecs.getincrementaldecoder("gbk")
_CLAUSE_PUNCT = frozenset("、，。；：")


@dataclass(frozen=True)
class _Realigned:
    """What a shifted GBK stream holds: whole characters, and the one byte left of a character at
    either end whose other byte was lost."""

    text: str
    first_trail: int | None  # the trail byte of the character whose lead byte was lost
    last_lead: int | None  # the lead byte of a character whose trail byte was lost


def _realigned(marks: str, tail: str) -> _Realigned | None:
    """The characters hidden in ``tail`` once the GBK stream is shifted back by one byte."""
    trailing_bangs = len(marks) - len(marks.rstrip("!"))
    prefix = b"\xa3\xa1" * trailing_bangs
    data = _gbk_bytes(tail)
    if data is None:
        return None
    stream = prefix + data
    decoder = _GBK_INCREMENTAL()
    try:
        decoded = decoder.decode(stream[1:], final=False)
    except UnicodeDecodeError:
        return None
    if not _plausible(decoded):
        return None
    pending = decoder.getstate()[0]
    return _Realigned(decoded, stream[0] if stream and stream[0] >= 0x40 else None,
                      pending[0] if len(pending) == 1 else None)


# A character of which one byte survived is put back only when, with the intact character beside
# it, it makes a word of jieba's dictionary that is both common and far more likely than what any
# other candidate would make: the evidence is one byte and one neighbour, so anything less is a guess.
_MIN_WORD_FREQUENCY = 100
_WORD_MARGIN = 10


@functools.lru_cache(maxsize=512)
def _half_candidates(byte: int, known_is_trail: bool) -> tuple[str, ...]:
    """The everyday characters whose GBK form has ``byte`` as its trail (or lead) byte."""
    common = common_han_chars()
    found = []
    for other in range(0x81, 0xFF):
        pair = bytes((other, byte)) if known_is_trail else bytes((byte, other))
        try:
            char = pair.decode("gbk")
        except UnicodeDecodeError:
            continue
        if char in common:
            found.append(char)
    return tuple(found)


def _completing_char(byte: int | None, known_is_trail: bool, left: str, right: str) -> str:
    """The character holding ``byte`` that makes a dictionary word with its intact neighbour
    (``left`` or ``right``, each one character or empty), or "" when none clearly does."""
    if byte is None or not (_HAN_CHAR.fullmatch(left) or _HAN_CHAR.fullmatch(right)):
        return ""
    jieba = segmenter()
    scored = []
    for char in _half_candidates(byte, known_is_trail):
        words = [left + char] if _HAN_CHAR.fullmatch(left) else []
        words += [char + right] if _HAN_CHAR.fullmatch(right) else []
        frequency = max(jieba.get_FREQ(to_simplified(word)) or 0 for word in words)
        if frequency:
            scored.append((frequency, char))
    scored.sort(reverse=True)
    if not scored or scored[0][0] < _MIN_WORD_FREQUENCY:
        return ""
    if len(scored) > 1 and scored[0][0] < _WORD_MARGIN * scored[1][0]:
        return ""
    return scored[0][1]


def _with_halves(realigned: _Realigned, marks: str, before: str, after: str) -> str:
    """``realigned`` with the characters of which one byte survived, where a dictionary word tells them."""
    text = realigned.text
    # The character before the marks touched the damaged one only when a single byte was lost there.
    left = before if marks.rstrip("!") == "?" else ""
    first = _completing_char(realigned.first_trail, True, left, (text + after)[:1])
    last = _completing_char(realigned.last_lead, False, (first + text)[-1:], after)
    return first + text + last


def _repair_lost_byte(match: re.Match[str]) -> str:
    text, start, stop = match.string, match.start(), match.end()
    marks, tail, end = match.group("marks"), match.group("tail"), match.group("end") or ""
    before = text[start - 1] if start else ""
    after = text[stop] if stop < len(text) else ""
    # The intact text after the damage: a '?' right after it stands for the lost trail byte.
    intact_after = text[stop + 1 : stop + 2] if after in "?\ufffd" else after
    near_cjk = bool(tail) or after in _CLAUSE_PUNCT or bool(before and _CJK_CHAR.match(before))
    if not near_cjk:
        return match.group()
    uncommon = _uncommon_han(tail)
    garbled_marks = len(marks) > 1 or "\ufffd" in marks
    if not garbled_marks:
        # A lone '?' is usually a question mark typed half-width; treat it as a lost byte only
        # when what follows is visibly garbled or it sits right before a comma-like mark.
        if tail and uncommon * 3 >= len(tail):
            realigned = _realigned(marks, tail + end)
            if realigned is not None:
                return _with_halves(realigned, marks, before, intact_after)
        if not tail and not end and after in _CLAUSE_PUNCT and _HAN_CHAR.match(before or "x"):
            return ""
        return match.group()
    if tail or end:
        realigned = _realigned(marks, tail + end)
        if realigned is not None and (uncommon or end or not tail):
            return _with_halves(realigned, marks, before, intact_after)
    return tail  # the marks (and a stray one-byte letter) carry nothing recoverable


def repair_lost_byte_runs(text: str) -> str:
    """Repair or drop the garbage a lost byte leaves in GBK text: ``在“?!鄙嫌写胧?、`` -> ``在“”上有措施、``.

    A character that kept one of its two bytes comes back when the dictionary word it makes with
    its neighbour says which it was (措 + the lead byte of 施); one that no word vouches for is
    dropped, as is U+FFFD.
    """
    if "?" not in text and "\ufffd" not in text:
        return text
    return _LOST_BYTE.sub(_repair_lost_byte, text)
