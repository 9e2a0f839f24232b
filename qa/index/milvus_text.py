"""Passages and queries in the form Milvus's jieba analyzer turns into exactly our BM25 tokens.

The BM25 field holds a passage as our own BM25 reads it (Simplified, width-folded, lower case,
punctuation blanked) and the analyzer drops our stop words, so Milvus's jieba yields the tokens
qa.text.tokens.lexical_tokens gives; a query goes to it as text that it cuts back into our tokens.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from qa.text.normalize import HAN_UNIFIED, lexical_form
from qa.text.tokens import STOPWORDS, WORDLIKE, lexical_tokens, segmenter

# Characters our BM25 never counts (no letter, digit or Han): blanked before Milvus's jieba sees the text.
# jieba emits each of them as a token of its own, so blanking them changes no other token. The symbols
# jieba keeps inside words (+#&._%-) stay; the tokens made of them alone are stop words below.
NOT_INDEXED = re.compile(rf"[^0-9a-z{HAN_UNIFIED}+#&._%\-\s]+")
_JOINERS = "+#&._%-"
STOP_WORDS = sorted(STOPWORDS | {"".join(p) for n in (1, 2, 3) for p in itertools.product(_JOINERS, repeat=n)})
ANALYZER = {"tokenizer": "jieba", "filter": [{"type": "stop", "stop_words": STOP_WORDS}]}


def bm25_text(text: str) -> str:
    """A passage as Milvus's analyzer should read it to find our BM25 tokens (`qa.text.tokens.lexical_tokens`)."""
    return NOT_INDEXED.sub(" ", lexical_form(text))


def bm25_source(passage_text: str, title: str | None, tokens: str) -> str:
    """What Milvus's analyzer reads for a passage so that it finds the passage's stored BM25 tokens: its
    text, then its document's title and context words where ingest counted them (qa.ingest.pipeline)."""
    parts = [bm25_text(passage_text)]
    stored = tokens.split(" ") if tokens else []
    rest = stored[len(lexical_tokens(passage_text)):]
    title_words = lexical_tokens(title) if title else []
    if title and title_words and rest[: len(title_words)] == title_words:
        parts.append(bm25_text(title))
        rest = rest[len(title_words):]
    if rest:  # the occasion, place and speaker's words, as tokens: their text is the document's, not here
        parts.append(query_text(rest))
    return "\n".join(parts)


def _kept(token: str) -> bool:
    return bool(WORDLIKE.search(token)) and token not in STOPWORDS and not token.isspace()


def query_text(tokens: Sequence[str]) -> str:
    """Text that Milvus's jieba analyzer turns back into exactly these query tokens.

    jieba's search mode emits, just before each long word, its 2- and 3-character parts that are
    words themselves; handing it those parts as well would count them twice. So each run of tokens
    that is exactly some later word's parts is dropped and only the words are sent.
    """
    tokens = list(tokens)
    words: list[str] = []
    i = 0
    while i < len(tokens):
        for j in range(i + 1, min(len(tokens), i + 1 + 2 * MAX_WORD_PARTS)):
            if len(tokens[j]) > 2 and tokens[i:j] == _search_parts(tokens[j]):
                words.append(tokens[j])
                i = j + 1
                break
        else:
            words.append(tokens[i])
            i += 1
    return " ".join(words)


MAX_WORD_PARTS = 16


def _search_parts(word: str) -> list[str]:
    """The parts jieba's cut_for_search emits before `word`, as our BM25 keeps them."""
    frequencies = segmenter().dt.FREQ
    parts = [word[i:i + 2] for i in range(len(word) - 1) if frequencies.get(word[i:i + 2])]
    if len(word) > 3:
        parts += [word[i:i + 3] for i in range(len(word) - 2) if frequencies.get(word[i:i + 3])]
    return [part for part in parts if _kept(part)]


def longest_indexed_piece(folded_phrase: str) -> str | None:
    """The longest run of a folded phrase (qa.index.phrase_index.fold_for_phrase) that the BM25 text keeps
    unbroken: every document holding the phrase holds it in its passages' BM25 text. None when there is none."""
    pieces = [piece for piece in NOT_INDEXED.split(folded_phrase.lower()) if piece.strip()]
    return max(pieces, key=len).strip() if pieces else None
