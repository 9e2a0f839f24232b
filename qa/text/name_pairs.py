"""Name pairs a text states itself: 美國在台協會（AIT）, 處長孫曉雅（Sandra Oudkirk）, CPTPP（跨太平洋夥伴全面進步協定）.

Releases translate the names they use the first time they use them, a Chinese name with its
English in brackets or the other way round. The English side is what the brackets hold; the
Chinese side of 中文（English） has no bracket on its left, so its start is found from jieba's words:
back from the bracket over the words of one noun phrase, stopping at a verb, preposition, conjunction
or function word, and after the last title (處長, 大使, 總統) when a person is named. Pairs are then
counted over a collection, and a pair is kept when it recurs or when its English is given no other
Chinese name (`kept_pairs`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from qa.text.normalize import HAN_UNIFIED, to_simplified
from qa.text.tokens import STOPWORDS, segmenter

# Letters with diacritics (Petén, Lukauskas, Müller) count as Latin; so do the middle dot and apostrophe inside names.
_LATIN_LETTER = "A-Za-z\u00c0-\u024f"
_ENGLISH_SIDE = re.compile(rf"^[{_LATIN_LETTER}0-9][{_LATIN_LETTER}0-9 .,&'’\-‧·/+]*$")
_BRACKETED = re.compile(r"[（(]([^（）()]{1,120})[）)]")
_HAN_RUN = re.compile(f"[{HAN_UNIFIED}‧·・．•]+$")
_MEASURE_WORDS = frozenset("屆年月日號週周次個位名家項條期")
_QUOTED = re.compile(f"[「『“]([{HAN_UNIFIED}‧·・．•]{{2,24}})[」』”]$")
_HAN_SIDE = re.compile(f"^[{HAN_UNIFIED}][{HAN_UNIFIED}‧·・．•]{{1,23}}$")
_LATIN_RUN = re.compile(rf"[{_LATIN_LETTER}0-9][{_LATIN_LETTER}0-9.&'’\-]*(?:[ \u00a0][{_LATIN_LETTER}0-9.&'’\-]+)*")
_WORD = re.compile(r"[a-z0-9]+")
_CAPITALISED = re.compile(rf"^[A-Z\u00c0-\u00de][{_LATIN_LETTER}'’\-.]*$")

MAX_LEFT_CHARS = 24  # a Chinese name stated before its English is never longer than this
MAX_ENGLISH_WORDS = 8  # longer brackets hold titles of talks and reports, not names
MAX_CHINESE_CHARS = 20
# Parts after a comma that qualify a name rather than name it: "Surangel S. Whipps, Jr.", "Cory Gardner, R-CO".
_HONORIFIC = re.compile(r"^(?:Hon\.?|H\.\s?E\.|Dr\.?|Mr\.?|Mrs\.?|Ms\.?|Madam|Madame|Dame|Sir|Prof\.?|Rev\.?)\s+")
_QUALIFIER = re.compile(r"^(?:Jr\.?|Sr\.?|I{1,3}|IV|Ph\.?D\.?|[RDI]-[A-Z]{2}|G?[CK]?[BM]?[CE]?MG|[OMCKG]BE)$")

# Titles after which a person's name follows: 外交部長孟卡達, 駐台大使達比亞, 教宗方濟各. A title is whole
# jieba words (one or more); words ending in 長 are titles (部長, 處長, 議長, 幹事長) unless listed here.
_TITLES = frozenset(
    "書記 常代 夫婿 召集人 總監 手 家 卿 大使 公使 代表 總統 副總統 總理 副總理 首相 主席 副主席 主任 議員 參議員 眾議員 委員 理事 董事 幹事 顧問 "
    "研究員 秘書 教宗 國王 王后 女王 親王 王儲 王子 公主 總督 夫人 女士 先生 博士 教授 律師 醫師 經理 創辦人 發言人 "
    "負責人 主持人 當選人 候選人 代辦 特使 總裁 主教 樞機 執行董事 執行理事 部長 次長".split()
)
_TITLE_ENDINGS = tuple(_TITLES)
_NOT_TITLES = frozenset("國家 大家 全家 自家 住家 店家 商家 成長 增長 延長 擅長 專長 家長 漫長 見長 助長 生長 消長".split())
# A Chinese name that ends like an institution names the institution, not a person after a title.
_INSTITUTION_ENDINGS = ("會", "院", "部", "府", "局", "署", "處", "所", "黨", "組織", "中心", "協定", "公約", "基金",
                        "大學", "銀行", "公司", "集團", "論壇", "聯盟", "計畫", "計劃", "獎", "小組")
# jieba parts of speech that start a new phrase (verb, preposition, conjunction, adverb, pronoun, number,
# time, particle, locative): the Chinese name lies after them. Single-character verbs and idioms holding
# 在台/駐台 are exempt: jieba tags pieces of transliterated names as verbs (納斯拉雅 -> 納/v), and the
# offices of other countries are named "X在台協會".
_PHRASE_BREAKS = ("v", "p", "c", "d", "r", "m", "t", "u", "f", "q", "y", "e", "o", "i")
_FUNCTION_WORDS = ("p", "c", "u", "r", "y", "e", "o")
_NOUN_LIKE_VERBS = ("vn",)
# 暨 joins two named things; inside an institution's name (外交暨貿易部) it is kept.
_PERSON_BREAKS = frozenset("暨 及 與 和 、 新任 現任 前任 時任".split())
_IN_TAIWAN = ("在台", "在臺", "駐台", "駐臺")


@dataclass(frozen=True, order=True)
class NamePair:
    """A Chinese name and its English as one text states them, both as written there."""

    chinese: str
    english: str


def english_key(english: str) -> tuple[str, ...]:
    """The words an English name is matched by: lower case, accents dropped, punctuation ignored."""
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", english) if not unicodedata.combining(ch))
    return tuple(_WORD.findall(plain.lower()))


def is_acronym(english: str) -> bool:
    """AIT, CPTPP, SDGs, G7, 5G: matched only as written in capitals, so "who" never reads as WHO."""
    letters = [ch for ch in english if ch.isalpha()]
    return " " not in english.strip() and sum(ch.isupper() for ch in letters) >= max(1, len(letters) - 1)


def _english_forms(inside: str) -> list[str]:
    """The English names a bracket holds: "Intelligent Community Forum, ICF" gives both; qualifiers are dropped."""
    inside = inside.replace("\u00a0", " ").replace("，", ",").strip()
    if not _ENGLISH_SIDE.match(inside) or "://" in inside or inside.lower().startswith("www."):
        return []
    parts = [_HONORIFIC.sub("", part.strip()) for part in inside.split(",")]
    parts = [part for part in parts if part and not _QUALIFIER.match(part)]
    if len(parts) > 1 and " " not in parts[0]:
        parts = [" ".join(parts)]  # "KITAMURA, TSUNEO" is one name; "Warsaw Security Forum, WSF" two
    return [form for form in parts if _plausible_english(form)]


def _plausible_english(form: str) -> bool:
    words = form.split()
    if not words or len(words) > MAX_ENGLISH_WORDS or not any(ch.isalpha() for ch in form):
        return False
    # A name or an acronym starts with a capital or a digit ("make friends" is a gloss, not a name).
    return form[0].isupper() or form[0].isdigit()


def _is_title(word: str) -> bool:
    if word in _NOT_TITLES:
        return False
    return word.endswith(_TITLE_ENDINGS) or (len(word) >= 2 and word.endswith("長"))


def _words(left: str) -> list[tuple[str, str]]:
    """jieba's (word, part of speech) of `left` as written: tagged on the Simplified form, which jieba's dictionary holds."""
    import jieba.posseg

    segmenter()  # jieba initialised once, quietly
    simplified = to_simplified(left)
    if len(simplified) != len(left):
        simplified = left
    words, at = [], 0
    for token in jieba.posseg.cut(simplified):
        words.append((left[at:at + len(token.word)], token.flag))
        at += len(token.word)
    return words


def chinese_side(left: str, english: str) -> str | None:
    """The Chinese name that ends `left`, the text before a bracketed English name, or None.

    A name in quotes is the quoted text. Otherwise jieba's words are read back from the bracket: a
    person's name (any English but an acronym) starts after the last title (駐台大使|達比亞) and any
    name after the last word that begins a new phrase (the last word is always part of it); then a
    person's name starts after the last country or institution before it (帛琉共和國|惠恕仁).
    """
    quoted = _QUOTED.search(left)
    if quoted:
        return quoted.group(1)
    tail = left[-MAX_LEFT_CHARS:]
    run = _HAN_RUN.search(tail)
    if not run:
        return None
    start = len(left) - len(tail) + run.start()  # where the run starts in `left`
    text = run.group(0)
    if left[start - 1:start].isdigit() and text[0] in _MEASURE_WORDS:
        text = text[1:]  # 第23屆世界蘭花會議: a measure word after a number starts no name
    if not text:
        return None
    words = _split_titles(_words(text))
    if run.start() == 0 and start > 0 and _HAN_RUN.search(left[:start]):
        words = words[1:]  # the run was cut short, so its first word may be a fragment
    person = not is_acronym(english)
    if person:
        words = _after_title(words)
    for index in range(len(words) - 1, 0, -1):
        if words[index - 1][0] == "在" and words[index][0][:1] in "台臺":
            continue  # 歐洲在臺商務協會: the offices of other countries are named "X在台…"
        if _breaks_phrase(*words[index - 1], person=person):
            words = words[index:]
            break
    if person:
        words = _after_place(words)
    name = "".join(word for word, _ in words)
    return name if _HAN_SIDE.match(name) and len(name) <= MAX_CHINESE_CHARS and name not in STOPWORDS else None


def _split_titles(words: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Mend jieba's words where a title's 長 was joined to the name after it (會|長孫|爾 -> 會|長|孫爾)."""
    mended: list[tuple[str, str]] = []
    for word, flag in words:
        if mended and len(word) >= 2 and word[0] == "長":
            mended.append(("長", "n"))
            word = word[1:]
        mended.append((word, flag))
    return mended


def _length(words: list[tuple[str, str]]) -> int:
    return sum(len(word) for word, _ in words)


def _after_title(words: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The words after the last title, without a title that follows the name (高夏帆|副主席); unchanged
    where no name of two characters or more would be left."""
    if len(words) > 1 and _is_title(words[-1][0]) and _length(words[:-1]) >= 2:
        words = words[:-1]
    for index in range(len(words) - 1, 0, -1):
        before = "".join(word for word, _ in words[:index])
        word = words[index - 1][0]
        if (_is_title(word) or word == "長" or before.endswith(_TITLE_ENDINGS)) and _length(words[index:]) >= 2:
            return words if "".join(w for w, _ in words[index:]).endswith(_INSTITUTION_ENDINGS) else words[index:]
    return words


def _after_place(words: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The words after the last country or institution, where a name of two characters or more is left."""
    for index in range(len(words) - 1, 0, -1):
        before = "".join(word for word, _ in words[:index])
        word, flag = words[index - 1]
        # Places of three characters or more only: jieba tags Japanese surnames (山本, 中西) as places too.
        if ((len(word) >= 3 and flag in ("ns", "nt")) or before.endswith(_INSTITUTION_ENDINGS + ("國", "州"))) \
                and _length(words[index:]) >= 2:
            return words if "".join(w for w, _ in words[index:]).endswith(_INSTITUTION_ENDINGS) else words[index:]
    return words


def _breaks_phrase(word: str, flag: str, *, person: bool) -> bool:
    if word in STOPWORDS or (person and word in _PERSON_BREAKS):
        return True
    if _is_title(word) or any(mark in word for mark in _IN_TAIWAN) or flag in _NOUN_LIKE_VERBS:
        return False
    if len(word) == 1:  # pieces of transliterated names come tagged as anything (多|斯塔爾, 偉|斯托, 納|斯拉雅)
        return flag.startswith(_FUNCTION_WORDS)
    return flag.startswith(_PHRASE_BREAKS)


def pairs_in_text(text: str) -> list[NamePair]:
    """Every name pair `text` states, in order, repeats included."""
    found: list[NamePair] = []
    for match in _BRACKETED.finditer(text):
        inside = match.group(1).strip()
        before = text[:match.start()].rstrip(" \u00a0")
        if _HAN_SIDE.match(inside):  # English（中文）
            tail = before[-80:]
            runs = [run for run in _LATIN_RUN.finditer(tail) if run.end() == len(tail)]
            english = runs[-1].group(0).strip() if runs else ""
            if english and _plausible_english(english) and len(english) >= 2:
                found.append(NamePair(inside, english))
            continue
        forms = _english_forms(inside)
        if not forms:
            continue
        chinese = chinese_side(before, forms[0])
        if chinese:
            found.extend(NamePair(chinese, form) for form in forms)
    return found


def document_pairs(title: str | None, text: str) -> list[NamePair]:
    """The pairs a document states, in its title and then its text."""
    return (pairs_in_text(title) if title else []) + pairs_in_text(text)


def kept_pairs(counts: Mapping[NamePair, int]) -> list[NamePair]:
    """The pairs worth reading questions by.

    A pair is kept when its English is given no other Chinese name, or when the Chinese name is stated
    for that English twice or more, counting the longer names that end in it (處長孫曉雅 supports
    孫曉雅) but keeping no name that merely lengthens a kept one. Names are compared in Simplified
    script, English by `english_key`.
    """
    by_english: dict[tuple[str, ...], dict[str, int]] = {}
    for pair, count in counts.items():
        sides = by_english.setdefault(english_key(pair.english), {})
        chinese = to_simplified(pair.chinese)
        sides[chinese] = sides.get(chinese, 0) + count
    kept_sides: dict[tuple[str, ...], set[str]] = {}
    for key, sides in by_english.items():
        if len(sides) == 1:
            kept_sides[key] = set(sides)
            continue
        support = {side: sum(n for other, n in sides.items() if other.endswith(side)) for side in sides}
        supported = sorted((side for side, n in support.items() if n >= 2), key=len)
        chosen: set[str] = set()
        for side in supported:
            if not any(side.endswith(shorter) for shorter in chosen):
                chosen.add(side)
        kept_sides[key] = chosen
    return sorted(pair for pair in counts if to_simplified(pair.chinese) in kept_sides[english_key(pair.english)])


def count_pairs(texts: Iterable[str]) -> dict[NamePair, int]:
    """How often each pair is stated over `texts`."""
    counts: dict[NamePair, int] = {}
    for text in texts:
        for pair in pairs_in_text(text):
            counts[pair] = counts.get(pair, 0) + 1
    return counts
