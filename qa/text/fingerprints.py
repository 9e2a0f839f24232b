"""What text reuse compares: a text's reuse form (its wording without script, width or punctuation) and fingerprints of it.

The reuse form keeps one code for each letter or digit of the text and drops everything else
(punctuation, spaces, symbols). Each character is mapped on its own, never by context, so a passage
reduces to exactly the codes it holds inside its document: the exactness of qa.index.reuse_index
rests on that. Characters that OpenCC turns into each other one at a time (後/后, 爲/為/为,
乾/干/幹) share one code, as do the full-width, compatibility (年 U+F98E) and upper-case forms of
a character. ``positions[i]`` is the offset in the text of the character code ``i`` came from.

Fingerprints are winnowed (Schleimer, Wilkerson and Aiken, SIGMOD 2003): hash every run of
``gram`` codes, and keep the smallest hash of every ``window`` consecutive ones. Two texts sharing
a run of at least ``gram + window - 1`` codes share a whole window, hence the fingerprint chosen in
it, at the same place in the run: no shared run that long goes without a shared fingerprint.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import numpy as np

from qa.text.normalize import to_simplified, to_traditional

# Ranges whose characters have Traditional or Simplified counterparts: CJK radicals to the unified
# ideographs' end, and the compatibility ideographs.
_SCRIPT_RANGES = ((0x2E80, 0xA000), (0xF900, 0xFB00))
_BMP = 0x10000
_GRAM_BASE = np.uint64(0x100000001B3)  # odd, so the polynomial hash mod 2**64 loses no information per step


@dataclass(frozen=True, eq=False)
class ReuseForm:
    """A text's reuse form: ``codes`` (uint32, one a kept character) and the offset each came from."""

    codes: np.ndarray  # uint32
    positions: np.ndarray  # int64 offsets into the text, ascending

    def __len__(self) -> int:
        return len(self.codes)

    def span_in_text(self, start: int, end: int) -> tuple[int, int]:
        """The text span ``[start, end)`` that reuse-form codes ``start .. end`` came from (end > start)."""
        return int(self.positions[start]), int(self.positions[end - 1]) + 1


def reuse_form(text: str) -> ReuseForm:
    """The codes text reuse compares, and where in ``text`` each came from."""
    if not text:
        return ReuseForm(np.empty(0, dtype=np.uint32), np.empty(0, dtype=np.int64))
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    table = _bmp_table()
    codes = np.zeros(len(points), dtype=np.uint32)
    basic = points < _BMP
    codes[basic] = table[points[basic]]
    if not basic.all():
        astral = np.flatnonzero(~basic)
        codes[astral] = [_astral_code(int(points[i])) for i in astral]
    kept = np.flatnonzero(codes)
    return ReuseForm(codes[kept], kept.astype(np.int64))


def reuse_codes(text: str) -> np.ndarray:
    """``reuse_form(text).codes``."""
    return reuse_form(text).codes


def _astral_code(point: int) -> int:
    # Beyond the Basic Multilingual Plane: the extension B-G ideographs (letters) and little else.
    return point if unicodedata.category(chr(point))[0] in "LN" else 0


@functools.lru_cache(maxsize=1)
def _bmp_table() -> np.ndarray:
    """The reuse code of every BMP code point (0: dropped), built once."""
    table = np.zeros(_BMP, dtype=np.uint32)
    for point in range(_BMP):
        ch = chr(point)
        if 0xD800 <= point <= 0xDFFF:
            continue
        folded = unicodedata.normalize("NFKC", ch)
        if len(folded) != 1:
            folded = ch
        lowered = folded.lower()
        if len(lowered) == 1:
            folded = lowered
        if unicodedata.category(folded)[0] in "LN":
            table[point] = ord(folded)
    classes = _script_classes()
    present = (table != 0) & (table < _BMP)  # a few compatibility ideographs fold beyond the BMP
    table[present] = classes[table[present]]
    return table


def _script_classes() -> np.ndarray:
    """For every BMP code point, the smallest code point it is joined to by one-character OpenCC conversions."""
    parent = np.arange(_BMP, dtype=np.uint32)

    def root(point: int) -> int:
        while parent[point] != point:
            parent[point] = parent[parent[point]]
            point = int(parent[point])
        return point

    points = [point for start, end in _SCRIPT_RANGES for point in range(start, end)]
    chars = [chr(point) for point in points]
    # One call per direction: characters on lines of their own convert as they would alone.
    joined = "\n".join(chars)
    for convert in (to_simplified, to_traditional):
        converted = convert(joined).split("\n")
        if len(converted) != len(chars):  # a conversion that joined lines: one call a character instead
            converted = [convert(ch) for ch in chars]
        for point, other in zip(points, converted, strict=True):
            if len(other) == 1 and ord(other) < _BMP:
                a, b = root(point), root(ord(other))
                if a != b:
                    parent[max(a, b)] = min(a, b)
    return np.array([root(point) for point in range(_BMP)], dtype=np.uint32)


def gram_hashes(codes: np.ndarray, gram: int) -> np.ndarray:
    """uint64 hash of each run of ``gram`` codes (``len(codes) - gram + 1`` of them), well mixed."""
    count = len(codes) - gram + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    values = np.asarray(codes, dtype=np.uint64)
    key = values[:count].copy()
    for offset in range(1, gram):  # a polynomial hash mod 2**64, then mixed so its minima spread evenly
        key *= _GRAM_BASE
        key += values[offset : offset + count]
    return _mix(key)


def _mix(key: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves every output bit."""
    key = key ^ (key >> np.uint64(30))
    key *= np.uint64(0xBF58476D1CE4E5B9)
    key ^= key >> np.uint64(27)
    key *= np.uint64(0x94D049BB133111EB)
    key ^= key >> np.uint64(31)
    return key


def winnow(codes: np.ndarray, gram: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """The fingerprints of ``codes``: (uint64 hashes, int64 start of each gram), in text order.

    A text shorter than one whole window has none.
    """
    hashes = gram_hashes(codes, gram)
    if len(hashes) < window:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(hashes, window)
    # The leftmost minimum of each window: a function of the window's grams alone, so an identical
    # window in another text picks the same place in it.
    chosen = np.unique(np.arange(len(windows)) + windows.argmin(axis=1))
    return hashes[chosen], chosen.astype(np.int64)
