"""Character classes, and the script and width normalisation used for matching (never for what users read)."""

from __future__ import annotations

import contextlib
import functools
import re

# --- character classes -------------------------------------------------------------------
#
# Bodies of regular-expression classes (use as f"[{HAN}]"). Which ideographs count differs by purpose:
# matching words and names uses the unified ideographs, cleaning and highlighting every ideograph a
# speech holds (Taiwan releases write some characters as compatibility ideographs, 年 U+F98E), and
# the extension A and compatibility characters are what wrong-codec decoding tends to produce.
HAN_BASIC = "\u4e00-\u9fff"  # the CJK Unified Ideographs block: every everyday character
HAN_EXTENSION_A = "\u3400-\u4dbf"
HAN_COMPATIBILITY = "\uf900-\ufaff"
HAN_UNIFIED = HAN_EXTENSION_A + HAN_BASIC  # the unified ideographs of the Basic Multilingual Plane
HAN = HAN_UNIFIED + HAN_COMPATIBILITY

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


def lexical_form(text: str) -> str:
    """Simplified, full-width folded, lower case: the form BM25 words are cut from and compared in."""
    return fold_width(to_simplified(text)).lower()


def normalize_for_matching(text: str) -> str:
    """One script (Simplified), ASCII punctuation, no whitespace, lower case: the form used to compare texts."""
    return fold_simplified_for_matching(to_simplified(text))


def fold_simplified_for_matching(simplified: str) -> str:
    """normalize_for_matching of text already in Simplified script (the script conversion is the costly part)."""
    return _WHITESPACE.sub("", fold_width(simplified)).lower()


_BASIC_HAN_CHAR = re.compile(f"[{HAN_BASIC}]")
_UNIFIED_HAN_CHAR = re.compile(f"[{HAN_UNIFIED}]")
_NOT_HAN = re.compile(f"[^{HAN}]+")


@functools.lru_cache(maxsize=1)
def common_han_chars() -> frozenset[str]:
    """The ~7,000 everyday ideographs: GB2312 level 1 plus Big5 'frequently used' (level 1).

    Used to tell real text from the rare characters that wrong-codec decoding produces.
    """
    chars: set[str] = set()
    for lead in range(0xB0, 0xD8):  # GB2312 rows 16-55: level-1 hanzi
        for trail in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                chars.add(bytes((lead, trail)).decode("gb2312"))
    big5_trails = [*range(0x40, 0x7F), *range(0xA1, 0xFF)]
    for lead in range(0xA4, 0xC7):  # Big5 A440-C67E: frequently used characters
        for trail in big5_trails:
            if lead == 0xC6 and trail > 0x7E:
                break
            with contextlib.suppress(UnicodeDecodeError):
                chars.add(bytes((lead, trail)).decode("big5"))
    return frozenset(ch for ch in chars if _BASIC_HAN_CHAR.match(ch))


@functools.lru_cache(maxsize=1)
def _drop_common_table() -> dict[int, None]:
    return dict.fromkeys(map(ord, common_han_chars()))


def count_common_han(text: str) -> int:
    """How many characters of ``text`` are everyday ideographs (see ``common_han_chars``)."""
    return len(text) - len(text.translate(_drop_common_table()))


def count_han(text: str) -> int:
    """How many characters of ``text`` are ideographs (``HAN``)."""
    return len(_NOT_HAN.sub("", text))


def detect_script(text: str, sample: int = 4000) -> str:
    """"zh-Hans", "zh-Hant", "mixed" or "other", from how many characters OpenCC would change each way."""
    han = "".join(_UNIFIED_HAN_CHAR.findall(text[:sample]))
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


