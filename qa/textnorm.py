"""Script and width normalisation used for matching (never for what users read)."""

from __future__ import annotations

import functools
import re

_WHITESPACE = re.compile(r"\s+")
# Lone UTF-16 surrogates (from a bad "\ud800" escape in JSON, say) are not text and cannot be encoded.
_SURROGATES = re.compile("[\ud800-\udfff]")


def drop_surrogates(text: str) -> str:
    return _SURROGATES.sub("", text)

# Full-width ASCII variants (U+FF01..U+FF5E) and the ideographic space fold to ASCII;
# Chinese sentence punctuation 。、「」 is kept because sentence splitting relies on it.
_WIDTH_TABLE: dict[int, int | str] = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_WIDTH_TABLE[0x3000] = 0x20
_WIDTH_TABLE.update({ord("“"): '"', ord("”"): '"', ord("‘"): "'", ord("’"): "'"})


@functools.lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@functools.lru_cache(maxsize=1)
def _s2t():
    import opencc

    return opencc.OpenCC("s2t")


def to_simplified(text: str) -> str:
    """Traditional -> Simplified (OpenCC t2s); Simplified text passes through unchanged."""
    return _t2s().convert(text)


def to_traditional(text: str) -> str:
    return _s2t().convert(text)


def fold_width(text: str) -> str:
    """Full-width letters, digits and punctuation to their ASCII forms."""
    return text.translate(_WIDTH_TABLE)


def normalize_for_matching(text: str) -> str:
    """One script (Simplified), ASCII punctuation, no whitespace, lower case: the form used to compare texts."""
    return fold_simplified_for_matching(to_simplified(text))


def fold_simplified_for_matching(simplified: str) -> str:
    """normalize_for_matching of text already in Simplified script (the script conversion is the costly part)."""
    return _WHITESPACE.sub("", fold_width(simplified)).lower()


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def detect_script(text: str, sample: int = 4000) -> str:
    """"zh-Hans", "zh-Hant", "mixed" or "other", from how many characters OpenCC would change each way."""
    han = "".join(ch for ch in text[:sample] if _is_han(ch))
    if len(han) < 10:
        return "other"
    trad_chars = sum(1 for a, b in zip(han, to_simplified(han), strict=False) if a != b)
    simp_chars = sum(1 for a, b in zip(han, to_traditional(han), strict=False) if a != b)
    if trad_chars == 0 and simp_chars == 0:
        return "zh-Hans"
    if trad_chars >= 4 * max(simp_chars, 1) or (trad_chars and not simp_chars):
        return "zh-Hant"
    if simp_chars >= 4 * max(trad_chars, 1) or (simp_chars and not trad_chars):
        return "zh-Hans"
    return "mixed"


