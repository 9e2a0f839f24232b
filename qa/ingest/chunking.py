"""Sentence-aware passage chunking for Chinese speeches.

A document is cut into sentences; heading lines (一、 / (一) / 1、 / 第一,) open sections;
each section is packed into passages of about ``target_chars`` that never cut a sentence
(unless one sentence alone is longer than ``max_chars``) and repeat one sentence of overlap.
Every passage is an exact slice of the document, so offsets can be stored and shown later.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from qa.errors import BadInputError
from qa.text.sentences import CLOSERS, LINE_BREAK, TERMINATORS, iter_sentences
from qa.types import Chunk

# Inside an overlong sentence, clause punctuation is the least damaging place to cut.
_CLAUSE_BREAK = re.compile(r"[，、,]")

_CN_NUMERAL = "一二三四五六七八九十百零〇"
_TOP_HEADING = re.compile(rf"[{_CN_NUMERAL}]+、\s*\S")  # 一、認清形勢
_PAREN_HEADING = re.compile(rf"[(（][{_CN_NUMERAL}]+[)）]\s*\S")  # (一)認真分析 / （一）
# 1、深刻領會精神 / 1. 部分包含; the lookahead keeps figures such as 1.4亿元 out.
_NUMBER_HEADING = re.compile(r"\d{1,2}(?:、|[.．](?![\d.．]))\s*\S")
_ORDINAL_HEADING = re.compile(rf"第[{_CN_NUMERAL}]+[,，、]\s*\S")  # 第一,開展
_FIGURE = re.compile(r"\d+[.．]\d")
# A short line that ends with one of these is a sentence (or a lead-in like 同志們:), not a title.
_SENTENCE_PUNCT = frozenset(TERMINATORS + "：:，,、")
_SHORT_HEADING_CHARS = 40
# Section labels are for display next to a hit; a heading line that runs on gets cut here.
_LABEL_CHARS = 40

# Heading levels: only the first three shape the section path.
_TOP, _PAREN, _NUMBERED, _PLAIN = 1, 2, 3, 4


class _Unit(NamedTuple):
    """A sentence, or a piece of an overlong one: the smallest thing a passage is built from."""

    start: int
    end: int
    heading: int  # level of the heading this unit opens, 0 for body text
    section: str | None  # heading path in effect at this unit


def _append_stripped(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    if start >= end:
        return
    # Chinese text rarely has spaces around sentences; skip the slicing when there are none.
    if not text[start].isspace() and not text[end - 1].isspace():
        spans.append((start, end))
        return
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        first = start + len(piece) - len(piece.lstrip())
        spans.append((first, first + len(stripped)))


# --------------------------------------------------------------------------- headings


def is_heading(line: str) -> bool:
    """True for an outline heading (一、 / (一) / 1、 / 1. / 第一,) or a short title-like line.

    A short line is at most 40 characters and does not end in sentence punctuation; lines that
    start with a figure (1.4亿元…) are never headings.
    """
    return _heading_level(line.strip()) > 0


def _heading_level(line: str) -> int:
    if not line or _FIGURE.match(line):
        return 0
    if _TOP_HEADING.match(line):
        return _TOP
    if _PAREN_HEADING.match(line):
        return _PAREN
    if _NUMBER_HEADING.match(line) or _ORDINAL_HEADING.match(line):
        return _NUMBERED
    if _is_short_title(line):
        return _PLAIN
    return 0


def _is_short_title(line: str) -> bool:
    if len(line) > _SHORT_HEADING_CHARS:
        return False
    body = line.rstrip(CLOSERS)
    # A line with no letters at all (a page number, a rule of dashes) introduces nothing.
    return bool(body) and body[-1] not in _SENTENCE_PUNCT and any(ch.isalpha() for ch in body)


def _label(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"


class _SectionPath:
    """Tracks the two-level heading path: a top heading (一、) and one sub-heading under it.

    (一) outranks 1、/第一, so while a (一) heading is active the numbered points beneath it
    start passages but do not replace it in the path.
    """

    def __init__(self) -> None:
        self.top: str | None = None
        self.sub: tuple[int, str] | None = None

    def enter(self, level: int, label: str) -> None:
        if level == _TOP:
            self.top, self.sub = label, None
        elif level == _PAREN or (level == _NUMBERED and (self.sub is None or self.sub[0] == _NUMBERED)):
            self.sub = (level, label)

    def current(self) -> str | None:
        parts = [part for part in (self.top, self.sub[1] if self.sub else None) if part]
        return " / ".join(parts) if parts else None


# --------------------------------------------------------------------------- units and blocks


def _units(text: str, max_chars: int, target_chars: int) -> list[_Unit]:
    """Sentences in document order, overlong ones cut into pieces, tagged with heading and section."""
    units: list[_Unit] = []
    path = _SectionPath()
    section = path.current()
    line_end = -1  # where the current line stops; a sentence starting past it opens a new line
    for start, end in iter_sentences(text):
        heading = 0
        if start > line_end:
            line_end = _line_end(text, start)
            heading = _heading_level(text[start:line_end].rstrip())
            if heading:
                path.enter(heading, _label(text[start:end]))
                section = path.current()
        if end - start <= max_chars:
            units.append(_Unit(start, end, heading, section))
            continue
        for piece_start, piece_end in _split_overlong(text, start, end, max_chars, target_chars):
            units.append(_Unit(piece_start, piece_end, heading, section))
            heading = 0
    return units


def _line_end(text: str, start: int) -> int:
    found = LINE_BREAK.search(text, start)
    return found.start() if found else len(text)


def _split_overlong(text: str, start: int, end: int, max_chars: int, target_chars: int) -> list[tuple[int, int]]:
    """One span for a sentence that fits; otherwise pieces of at most max_chars, cut at clause marks."""
    pieces: list[tuple[int, int]] = []
    while end - start > max_chars:
        cut = _cut_point(text, start, max_chars, target_chars)
        _append_stripped(pieces, text, start, cut)
        start = cut
    _append_stripped(pieces, text, start, end)
    return pieces


def _cut_point(text: str, start: int, max_chars: int, target_chars: int) -> int:
    """End of the next piece: the clause mark nearest target_chars, else a hard cut there."""
    best: int | None = None
    for match in _CLAUSE_BREAK.finditer(text, start + 1, start + max_chars):
        if best is None or abs(match.end() - start - target_chars) < abs(best - start - target_chars):
            best = match.end()
    return best if best is not None else _hard_cut(text, start, start + target_chars)


def _hard_cut(text: str, start: int, limit: int) -> int:
    """Cut at ``limit``, stepping back so an ASCII word or number is not split in two."""
    cut = limit
    while cut > start + 1 and _is_word_char(text[cut - 1]) and _is_word_char(text[cut]):
        cut -= 1
    return cut if cut > start + 1 else limit


def _is_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _blocks(units: list[_Unit]) -> list[list[_Unit]]:
    """Runs of units that each open with a heading; consecutive headings share one block."""
    blocks: list[list[_Unit]] = []
    has_body = True  # whether the last block has text beyond its headings
    for unit in units:
        if not blocks or (unit.heading and has_body):
            blocks.append([unit])
            has_body = not unit.heading
        else:
            blocks[-1].append(unit)
            has_body = has_body or not unit.heading
    return blocks


def _merge_small_blocks(blocks: list[list[_Unit]], min_chars: int) -> list[list[_Unit]]:
    """Fold blocks shorter than min_chars into a neighbour so they do not become tiny passages.

    A small block joins the block after it (its heading then introduces that text), unless the
    next block opens a new top-level section; then it joins the block before it. A block that
    opens a top-level section is never folded backwards: its heading must start a passage.
    """
    merged: list[list[_Unit]] = []
    pending: list[_Unit] = []
    for index, block in enumerate(blocks):
        block = pending + block
        pending = []
        if _span_length(block) >= min_chars:
            merged.append(block)
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        if following is not None and (following[0].heading != _TOP or all(u.heading for u in block)):
            pending = block
        elif merged and block[0].heading != _TOP:
            merged[-1] = merged[-1] + block
        else:
            merged.append(block)
    return merged


def _span_length(units: list[_Unit]) -> int:
    return units[-1].end - units[0].start


# --------------------------------------------------------------------------- packing


def _pack_block(
    units: list[_Unit], min_chars: int, target_chars: int, max_chars: int, overlap_sentences: int
) -> list[tuple[int, int]]:
    """Passages as unit index ranges ``[first, stop)``; consecutive ones may share overlap units."""
    passages: list[tuple[int, int]] = []
    fresh = 0  # first unit not yet in any passage
    while fresh < len(units):
        first = _overlap_start(units, fresh, overlap_sentences, target_chars, max_chars) if passages else fresh
        stop = _passage_stop(units, first, fresh, min_chars, target_chars, max_chars)
        passages.append((first, stop))
        fresh = stop
    return passages


def _overlap_start(units: list[_Unit], fresh: int, overlap_sentences: int, target_chars: int, max_chars: int) -> int:
    """Index the next passage starts at: up to overlap_sentences units before ``fresh`` when they fit.

    They fit when they are body text, take at most half of target_chars (so every passage is
    mostly new text) and leave room for the next sentence under max_chars.
    """
    for count in range(min(overlap_sentences, fresh), 0, -1):
        first = fresh - count
        repeated = units[first:fresh]
        if any(u.heading for u in repeated) or units[fresh].heading:
            continue
        if units[fresh - 1].end - units[first].start > target_chars // 2:
            continue
        if units[fresh].end - units[first].start <= max_chars:
            return first
    return fresh


def _passage_stop(units: list[_Unit], first: int, fresh: int, min_chars: int, target_chars: int, max_chars: int) -> int:
    start = units[first].start
    block_end = units[-1].end
    if block_end - start <= target_chars:
        return len(units)
    goal = _goal_length(units[fresh].start - start, block_end - units[fresh].start, min_chars, target_chars)
    stop = fresh + 1
    while stop < len(units):
        current = units[stop - 1].end - start
        extended = units[stop].end - start
        if extended > max_chars:
            break
        # Past min_chars, add a sentence only while that brings the passage closer to its goal.
        if (
            current >= min_chars
            and extended > goal
            and not (extended <= target_chars and extended - goal < goal - current)
        ):
            break
        stop += 1
    # Absorb a short tail rather than leave it as a passage of its own.
    if stop < len(units) and block_end - units[stop].start < min_chars and block_end - start <= max_chars:
        stop = len(units)
    return stop


def _goal_length(overlap: int, remaining: int, min_chars: int, target_chars: int) -> float:
    """Length to aim for so the rest of the block splits into even passages rather than full ones and a scrap."""
    room = max(1, target_chars - overlap)
    parts = math.ceil(remaining / room)
    return min(float(target_chars), max(float(min_chars), overlap + remaining / parts))


def _passage_section(units: list[_Unit]) -> str | None:
    # A passage that opens with headings belongs to the section they open; otherwise to the
    # section its first sentence is in.
    for unit in units:
        if not unit.heading:
            return unit.section
    return units[-1].section


# --------------------------------------------------------------------------- public entry point


def chunk_text(
    text: str,
    *,
    min_chars: int = 150,
    target_chars: int = 400,
    max_chars: int = 600,
    overlap_sentences: int = 1,
) -> list[Chunk]:
    """Cut a document into passages that follow its sentences and headings.

    Args:
        text: the document; offsets in the result index into it.
        min_chars: passages shorter than this are merged with a neighbour where that fits.
        target_chars: the length passages aim for.
        max_chars: no passage is longer; a sentence longer than this is cut at ，、, or anywhere.
        overlap_sentences: sentences repeated from the end of one passage at the start of the next
            within a section, when they fit.

    Returns:
        Chunks in document order with ``text == document[char_start:char_end]`` and the heading
        path above each one in ``section``.
    """
    _check_limits(min_chars, target_chars, max_chars, overlap_sentences)
    units = _units(text, max_chars, target_chars)
    chunks: list[Chunk] = []
    for block in _merge_small_blocks(_blocks(units), min_chars):
        for first, stop in _pack_block(block, min_chars, target_chars, max_chars, overlap_sentences):
            start, end = block[first].start, block[stop - 1].end
            chunks.append(Chunk(text[start:end], start, end, _passage_section(block[first:stop])))
    return chunks


def _check_limits(min_chars: int, target_chars: int, max_chars: int, overlap_sentences: int) -> None:
    if not 0 < min_chars <= target_chars <= max_chars:
        raise BadInputError(
            f"chunk sizes must satisfy 0 < min_chars <= target_chars <= max_chars, "
            f"got {min_chars}, {target_chars}, {max_chars}"
        )
    if overlap_sentences < 0:
        raise BadInputError(f"overlap_sentences must be 0 or more, got {overlap_sentences}")
