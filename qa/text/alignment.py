"""Show what two passages share: character spans of common wording in each.

Used to compare near-duplicate passages (a speech reusing another's text): the user should see
at a glance what was reused and what changed. Both texts are compared on a length-preserving
fold (Traditional -> Simplified per character, full-width -> ASCII, lower case), so offsets
found on the folded strings are offsets into the originals.

Matching is greedy string tiling: take the longest common substring not yet covered in either
text, mark it, repeat until nothing of ``min_len`` is left. Unlike a diff, this also finds text
that was moved (a reordered paragraph still shows as reused).
"""

from __future__ import annotations

import heapq
import re
import unicodedata

from qa.text.normalize import fold_width, to_simplified


def fold_chars(text: str) -> str:
    """A copy of ``text`` of the same length with script, width, case and whitespace folded."""
    return text.translate(_FOLD_TABLE)


class _FoldTable(dict[int, str]):
    """str.translate table that folds each character the first time it is seen, then remembers it."""

    def __missing__(self, codepoint: int) -> str:
        folded = _fold_char(chr(codepoint))
        if len(self) < _FOLD_TABLE_LIMIT:
            self[codepoint] = folded
        return folded


def _fold_char(ch: str) -> str:
    # Per character rather than per phrase: OpenCC's phrase tables could fold the same character
    # differently in the two texts, and would not guarantee one output character per input.
    if ch.isspace():
        return " "
    converters = (to_simplified, fold_width, str.lower) if _has_script_variants(ch) else (fold_width, str.lower)
    for convert in converters:
        converted = convert(ch)
        if len(converted) == 1:
            ch = converted
    return ch


def _has_script_variants(ch: str) -> bool:
    # Traditional/Simplified pairs are all CJK (U+2E80 on); lone surrogates, which OpenCC cannot
    # encode, are kept out.
    return ch >= "\u2e80" and not "\ud800" <= ch <= "\udfff"


# Enough for every Han character in use; beyond it characters are folded afresh each time.
_FOLD_TABLE_LIMIT = 100_000
_FOLD_TABLE = _FoldTable()


def shared_spans(a: str, b: str, *, min_len: int = 4) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Spans ``[start, end)`` of wording that ``a`` and ``b`` share, as offsets into each.

    Args:
        a, b: the two passages, in any script.
        min_len: shared runs shorter than this (and runs of only punctuation or spaces) are ignored.

    Returns:
        ``(spans_in_a, spans_in_b)``, each sorted, with touching spans merged.
    """
    folded_a, folded_b = fold_chars(a), fold_chars(b)
    tiles = _greedy_tiles(folded_a, folded_b, max(1, min_len))
    spans_a = _merge([(i, i + length) for i, _, length in tiles])
    spans_b = _merge([(j, j + length) for _, j, length in tiles])
    return spans_a, spans_b


def _greedy_tiles(a: str, b: str, min_len: int) -> list[tuple[int, int, int]]:
    """Non-overlapping common substrings ``(start_a, start_b, length)``, longest first."""
    covered_a = bytearray(len(a))
    covered_b = bytearray(len(b))
    heap = [(-length, i, j) for i, j, length in _maximal_matches(a, b, min_len)]
    heapq.heapify(heap)
    tiles: list[tuple[int, int, int]] = []
    while heap:
        negative_length, i, j = heapq.heappop(heap)
        length = -negative_length
        if covered_a.find(1, i, i + length) < 0 and covered_b.find(1, j, j + length) < 0:
            if _has_content(a, i, length):
                tiles.append((i, j, length))
                covered_a[i : i + length] = b"\x01" * length
                covered_b[j : j + length] = b"\x01" * length
            continue
        # Part of this match was taken by a longer tile; what is left competes again on its length.
        for offset, run_length in _uncovered_runs(covered_a, covered_b, i, j, length, min_len):
            heapq.heappush(heap, (-run_length, i + offset, j + offset))
    return tiles


def _maximal_matches(a: str, b: str, min_len: int) -> list[tuple[int, int, int]]:
    """Every common substring of at least min_len that cannot be extended left or right."""
    starts_in_b: dict[str, list[int]] = {}
    for j, gram in enumerate([b[j : j + min_len] for j in range(len(b) - min_len + 1)]):
        starts_in_b.setdefault(gram, []).append(j)
    matches = []
    for i, gram in enumerate([a[i : i + min_len] for i in range(len(a) - min_len + 1)]):
        for j in starts_in_b.get(gram, ()):
            # Only start where the match cannot extend to the left; otherwise it is a suffix
            # of a match already found from an earlier start.
            if i and j and a[i - 1] == b[j - 1]:
                continue
            matches.append((i, j, _common_prefix_length(a, b, i, j, min_len)))
    return matches


def _common_prefix_length(a: str, b: str, i: int, j: int, known: int) -> int:
    """Length of the common prefix of a[i:] and b[j:], given that the first ``known`` match."""
    low, high = known, min(len(a) - i, len(b) - j)
    # Binary search on slice equality: slice comparison runs in C, a char loop would not.
    while low < high:
        middle = (low + high + 1) // 2
        if a[i : i + middle] == b[j : j + middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _uncovered_runs(
    covered_a: bytearray, covered_b: bytearray, i: int, j: int, length: int, min_len: int
) -> list[tuple[int, int]]:
    """Stretches ``(offset, length)`` of a match still free in both texts, at least min_len long."""
    # OR the two coverage slices as big integers: one C-level operation instead of a char loop.
    either = int.from_bytes(covered_a[i : i + length]) | int.from_bytes(covered_b[j : j + length])
    mask = either.to_bytes(length)
    return [(run.start(), run.end() - run.start()) for run in _FREE_RUN[min_len].finditer(mask)]


class _FreeRunPatterns(dict[int, "re.Pattern[bytes]"]):
    """Compiled ``\\x00{n,}`` patterns, one per min_len asked for."""

    def __missing__(self, min_len: int) -> re.Pattern[bytes]:
        pattern = re.compile(rb"\x00{%d,}" % min_len)
        self[min_len] = pattern
        return pattern


_FREE_RUN = _FreeRunPatterns()


def _has_content(text: str, start: int, length: int) -> bool:
    """False for runs of only punctuation, symbols and spaces, which say nothing about reuse."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text[start : start + length])


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
