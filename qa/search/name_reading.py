"""English questions read by the names the collection teaches, before the dictionary.

The releases state their own translations (qa.text.name_pairs): 處長孫曉雅（Sandra Oudkirk）, 美國在台協會
（AIT）. A question naming Sandra Oudkirk or the AIT is read as 孫曉雅 or 美國在台協會, the collection's
own words for them, which no dictionary holds. Only names are read so: an acronym where the question
writes it in capitals, and other names where each of their words is capitalised.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from qa.text.name_pairs import NamePair, english_key, is_acronym
from qa.text.normalize import to_simplified
from qa.text.tokens import lexical_tokens

_TOKEN = re.compile(r"[A-Za-z\u00c0-\u024f0-9]+")
# Words a name holds in lower case between capitalised ones: "Davies of Gower", "Ramiro de León Carpio".
_JOINERS = frozenset("of the and for de del da di la le van von der den du y al bin".split())
# English words that, in capitals, are no acronym (US, IT, AM): what the collection's English passages
# hold as these words is the pronoun, the verb.
_FUNCTION_WORDS = frozenset("a an am as at be by do go he if in is it me my no of on or so to up us we".split())
MIN_SUBNAME_WORDS = 3  # a name of three words or more is also found by its first word and any later one


@dataclass(frozen=True)
class Reading:
    """A name an English question holds and the collection's Chinese for it."""

    english: str  # as the question writes it
    chinese: tuple[str, ...]  # as the collection writes it, most stated first

    def label(self) -> str:
        return f"{self.english} → {' / '.join(self.chinese)}"


@dataclass(frozen=True)
class _Word:
    text: str  # as written
    key: str  # lower case, accents dropped
    start: int
    end: int


def _words(text: str) -> list[_Word]:
    words = []
    for match in _TOKEN.finditer(text):
        plain = "".join(ch for ch in unicodedata.normalize("NFKD", match.group(0)) if not unicodedata.combining(ch))
        words.append(_Word(match.group(0), plain.lower(), match.start(), match.end()))
    return words


class NameReader:
    """Kept name pairs (qa.text.name_pairs.kept_pairs) as a lookup from a question's words to Chinese names."""

    def __init__(self, pairs: Iterable[NamePair], stated: Callable[[NamePair], int] = lambda pair: 1) -> None:
        names: dict[tuple[str, ...], dict[str, tuple[int, str]]] = {}
        acronyms: dict[str, dict[str, tuple[int, str]]] = {}
        shorter: dict[tuple[str, ...], dict[str, tuple[int, str]]] = {}
        for pair in pairs:
            english = pair.english.strip()
            if is_acronym(english):
                _add(acronyms.setdefault(english, {}), pair, stated(pair))
                continue
            key = english_key(english)
            if not key:
                continue
            _add(names.setdefault(key, {}), pair, stated(pair))
            if len(key) >= MIN_SUBNAME_WORDS:  # Andrea Clare Bowman is also Andrea Bowman; Santiago Peña Palacios, Santiago Peña
                for later in key[1:]:
                    if later not in _JOINERS:
                        _add(shorter.setdefault((key[0], later), {}), pair, stated(pair))
        for key, found in shorter.items():
            # A shortened name stands for its person only where it names no one else and no whole name is so written.
            if key not in names and len(found) == 1:
                names[key] = found
        self._names = {key: _ordered(found) for key, found in names.items()}
        self._acronyms = {key: _ordered(found) for key, found in acronyms.items()}
        self._longest = max((len(key) for key in self._names), default=0)

    def __len__(self) -> int:
        return len(self._names) + len(self._acronyms)

    def read(self, text: str) -> tuple[list[Reading], str]:
        """The names `text` holds, left to right, longest first where they overlap; and the text without them."""
        words = _words(text)
        readings: list[Reading] = []
        spans: list[tuple[int, int]] = []
        i = 0
        while i < len(words):
            found = self._match(words, i)
            if found is None:
                i += 1
                continue
            size, chinese = found
            start, end = words[i].start, words[i + size - 1].end
            readings.append(Reading(text[start:end], chinese))
            spans.append((start, end))
            i += size
        rest, at = [], 0
        for start, end in spans:
            rest.append(text[at:start])
            at = end
        rest.append(text[at:])
        return readings, " ".join(part.strip() for part in rest if part.strip())

    def _match(self, words: list[_Word], i: int) -> tuple[int, tuple[str, ...]] | None:
        acronym = self._acronyms.get(words[i].text)
        for size in range(min(self._longest, len(words) - i), 0, -1):
            span = words[i : i + size]
            if not _capitalised(span):
                continue
            chinese = self._names.get(tuple(word.key for word in span))
            if chinese and (size > 1 or i > 0):  # one capitalised word opening a question may be any word
                return size, chinese
        return (1, acronym) if acronym else None


def _capitalised(span: list[_Word]) -> bool:
    if span[0].key in _JOINERS or span[-1].key in _JOINERS:
        return False
    return all(word.text[0].isupper() or word.text[0].isdigit() or word.key in _JOINERS for word in span)


def _add(found: dict[str, tuple[int, str]], pair: NamePair, stated: int) -> None:
    """Chinese names by their Simplified form (美國在台協會 and 美國在臺協會 are one), each with how often it was stated."""
    simplified = to_simplified(pair.chinese)
    count, written = found.get(simplified, (0, pair.chinese))
    found[simplified] = (count + stated, written)


def _ordered(found: dict[str, tuple[int, str]]) -> tuple[str, ...]:
    return tuple(written for _, written in sorted(found.values(), key=lambda item: (-item[0], item[1])))


def _written_as_a_code(word: str) -> bool:
    """AIT, CPTPP, 5G, MQ-9B, iPhone, redteamalpha0001: a digit, capitals throughout, or a capital after
    a lower-case start. Not a name (McGuinness), nor a pronoun in capitals (US: the collection's English
    passages hold "us")."""
    if any(c.isdigit() for c in word):
        return True
    if len(word) > 1 and word.isupper():
        return word.lower() not in _FUNCTION_WORDS
    return word[0].islower() and any(c.isupper() for c in word[1:])


def collection_words(text: str, knows: Callable[[str], bool]) -> list[str]:
    """The question's Latin words, as BM25 holds them, that the collection holds and that the question
    writes as a code: AIT, CPTPP, 5G, a model number, a file's unique token. Everyday words and names
    are left to the name pairs and the dictionary: kept as they are, they match only the collection's
    few English passages (interviews held in English), whatever the question asks."""
    return list(dict.fromkeys(token for word in _TOKEN.findall(text) if _written_as_a_code(word)
                              for token in lexical_tokens(word) if token.isascii() and knows(token)))
