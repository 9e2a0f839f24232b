"""How rare a Chinese word is in general text: jieba's inverse document frequencies.

A property of the language, not of a collection, so the same figures serve every collection and
backend: the second stage weighs a query's words by them, and an English question's Chinese rendering
takes each word's commonest translation by them.
"""

from __future__ import annotations

import functools
from array import array
from importlib import resources

import numpy as np


@functools.lru_cache(maxsize=1)
def _word_rarity_table() -> tuple[np.ndarray, np.ndarray, float]:
    """jieba's inverse document frequencies over general Chinese text, as sorted word hashes and values.

    A property of the language, so the same weights serve every collection and backend. Kept as two
    arrays: a dict of its words would take more memory than a collection's vectors.
    """
    hashes, values = array("q"), array("f")
    with (resources.files("jieba") / "analyse" / "idf.txt").open(encoding="utf-8") as lines:
        for line in lines:
            word, _, value = line.rstrip("\n").rpartition(" ")
            if word:
                hashes.append(hash(word))
                values.append(float(value))
    keys = np.frombuffer(hashes, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    sorted_values = np.frombuffer(values, dtype=np.float32)[order]
    return keys[order], sorted_values, float(np.median(sorted_values))


@functools.lru_cache(maxsize=65536)
def word_rarity(word: str) -> float:
    """The word's inverse document frequency; a word jieba does not list is as rare as its median word."""
    hashes, values, unknown = _word_rarity_table()
    key = hash(word)
    at = int(np.searchsorted(hashes, key))
    return float(values[at]) if at < len(hashes) and hashes[at] == key else unknown
