"""The words BM25 counts: jieba's search-mode words of script-normalised text, function words dropped."""

from __future__ import annotations

import functools
import logging
import re

from qa.text.normalize import HAN_UNIFIED, lexical_form

# A token must hold a letter, digit or Han character; punctuation and spaces never count.
WORDLIKE = re.compile(f"[0-9a-z{HAN_UNIFIED}]")
# Function words so common in speeches that they only add noise to BM25.
STOPWORDS = frozenset("的 了 和 是 在 与 及 等 对 把 被 将 也 都 而 并 就 要 我们 一个 这 那 其 之 以 为 中 上 下".split())


@functools.lru_cache(maxsize=1)
def segmenter():
    """jieba, loaded and initialised once: loading its dictionary is slow."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def lexical_tokens(text: str) -> list[str]:
    """Search-mode jieba words (long words also yield their parts) of the Simplified, lower-cased text."""
    normalised = lexical_form(text)
    return [
        token
        for token in segmenter().cut_for_search(normalised)
        if WORDLIKE.search(token) and token not in STOPWORDS and not token.isspace()
    ]
