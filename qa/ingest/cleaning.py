"""Boilerplate and noise removal for speech texts.

``clean_text`` runs a fixed sequence of small, pure rules (``CLEANING_RULES``); each rule takes
text and returns text and has its own test built from a real line of the sample corpus. The
rules never convert Traditional <-> Simplified and never change full-width punctuation: the
stored text keeps its original script and typography (matching uses ``qa.text.normalize``).
"""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

from qa.text.normalize import (
    HAN,
    HAN_COMPATIBILITY,
    HAN_EXTENSION_A,
    common_han_chars,
    count_common_han,
    count_han,
    to_simplified,
)
from qa.text.tokens import segmenter

# --- character classes -------------------------------------------------------------------

# CJK symbols and punctuation, full-width forms, and the curly quotes / ellipsis / dashes that
# Chinese text shares with Western typography.
_CJK_PUNCT = "\u3001-\u3003\u3008-\u3011\u3014-\u301f\uff01-\uff65“”‘’…—·"
_CJK = HAN + _CJK_PUNCT
_HAN_CHAR = re.compile(f"[{HAN}]")
_SPACE = " \t\u3000\xa0\u2002-\u200a"
_STOPS = "。！？；：!?;:"  # characters after which a line break is a paragraph break


def _uncommon_han(text: str) -> int:
    return count_han(text) - count_common_han(text)


@functools.lru_cache(maxsize=1)
def _suspect_char() -> re.Pattern[str]:
    """Any character that wrong-codec decoding tends to produce: a rare ideograph, a
    private-use character, the euro sign or U+FFFD."""
    common = common_han_chars()
    ranges: list[tuple[int, int]] = []
    for cp in range(0x4E00, 0xA000):  # HAN_BASIC
        if chr(cp) in common:
            continue
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    rare = "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges)
    return re.compile(f"[{rare}{HAN_EXTENSION_A}{HAN_COMPATIBILITY}\ue000-\uf8ff€\ufffd]")


# --- control characters and odd spaces ------------------------------------------------------

_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff\ud800-\udfff]")
_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")  # form feed: a PDF page break
_ODD_SPACE = re.compile(f"[{_SPACE[1:]}]")  # everything in _SPACE except the plain space


def drop_control_chars(text: str) -> str:
    """Unify line ends, drop control and zero-width characters, turn odd spaces into spaces."""
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROL.sub("", text)
    return _ODD_SPACE.sub(" ", text)


# --- mojibake: text decoded with the wrong codec -------------------------------------------

_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f\s]{2,}")
_CP1252_RUN = re.compile(
    "[\u00c0-\u00ff][\u0080-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]{1,}"
)
_LATIN1_LETTER = re.compile("[\u00c0-\u00ff]")
_ALLOWED_PUNCT = frozenset("“”‘’、。，：；！？（）《》【】「」『』…—·〈〉")


def _gbk_bytes(text: str) -> bytes | None:
    """``text`` re-encoded as the GBK bytes it was decoded from (cp936 maps 0x80 to the euro sign)."""
    try:
        return b"\x80".join(part.encode("gbk") for part in text.split("€"))
    except UnicodeEncodeError:
        return None


def _plausible(text: str) -> bool:
    """True when every character is ASCII, an everyday ideograph or ordinary CJK punctuation."""
    common = common_han_chars()
    return all(ch.isascii() or ch in common or ch in _ALLOWED_PUNCT for ch in text)


def _utf8_lenient(data: bytes) -> str | None:
    """Decode UTF-8 that may have lost a byte at either end; None when the middle is not UTF-8."""
    start = 0
    while start < min(3, len(data)) and 0x80 <= data[start] <= 0xBF:
        start += 1  # continuation bytes whose lead byte was lost
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        return decoder.decode(data[start:], final=False)  # drops an incomplete last character
    except UnicodeDecodeError:
        return None


def _unmojibake_gbk(run: str) -> str | None:
    """Repair UTF-8 text that was decoded as GBK, or None when ``run`` is not such text."""
    pieces = [p for p in run.split("\ufffd") if p]
    repaired = []
    for piece in pieces:
        data = _gbk_bytes(piece)
        decoded = _utf8_lenient(data) if data else None
        if not decoded or not _plausible(decoded):
            return None
        repaired.append(decoded)
    return "".join(repaired)


def _repair_non_ascii_run(match: re.Match[str]) -> str:
    run = match.group()
    if not _suspect_char().search(run):
        return run  # ordinary text: nothing rare, nothing to repair
    # The run may carry correct text on either side of the garbled part: try a few trims.
    for left in range(3):
        for right in range(3):
            core = run[left : len(run) - right]
            if len(core) < 2:
                continue
            repaired = _unmojibake_gbk(core)
            if repaired is not None and count_han(repaired) >= 1:
                return run[:left] + repaired + run[len(run) - right :]
    return run


def _cp1252_bytes(text: str) -> bytes | None:
    """The bytes a cp1252 (or Latin-1, for its C1 gaps) decoder turned into ``text``."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            if ord(ch) > 0xFF:
                return None
            out.append(ord(ch))
    return bytes(out)


def _repair_cp1252_run(match: re.Match[str]) -> str:
    run = match.group()
    data = _cp1252_bytes(run)
    repaired = _utf8_lenient(data) if data else None
    if repaired and count_han(repaired) and _plausible(repaired):
        return repaired
    return run


def repair_wrong_codec_runs(text: str) -> str:
    """Re-decode runs of UTF-8 that were decoded as GBK (``鍦ㄥ叏闀``) or as cp1252 (``ä¸­``).

    A run is replaced only when its bytes round-trip into UTF-8 made of everyday characters,
    so real text full of rare names is left alone.
    """
    if _suspect_char().search(text):
        text = _NON_ASCII_RUN.sub(_repair_non_ascii_run, text)
    if _LATIN1_LETTER.search(text):
        text = _CP1252_RUN.sub(_repair_cp1252_run, text)
    return text


# A GBK byte stream that lost a byte: the lost byte shows as '?' (or U+FFFD), and every
# character after it is glued from the wrong pair of bytes until a one-byte character (ASCII,
# or 0x80 shown as '€') re-aligns the stream. '!' inside the marks is a folded '！' (A3 A1).
_LOST_BYTE = re.compile(f"(?P<marks>[?\ufffd][?!\ufffd]*)(?P<tail>[{HAN}]*)(?P<end>[A-Za-z€](?![A-Za-z]))?")
_CJK_CHAR = re.compile(f"[{_CJK}]")
_GBK_INCREMENTAL = codecs.getincrementaldecoder("gbk")
_CLAUSE_PUNCT = frozenset("、，。；：")


@dataclass(frozen=True)
class _Realigned:
    """What a shifted GBK stream holds: whole characters, and the one byte left of a character at
    either end whose other byte was lost."""

    text: str
    first_trail: int | None  # the trail byte of the character whose lead byte was lost
    last_lead: int | None  # the lead byte of a character whose trail byte was lost


def _realigned(marks: str, tail: str) -> _Realigned | None:
    """The characters hidden in ``tail`` once the GBK stream is shifted back by one byte."""
    trailing_bangs = len(marks) - len(marks.rstrip("!"))
    prefix = b"\xa3\xa1" * trailing_bangs
    data = _gbk_bytes(tail)
    if data is None:
        return None
    stream = prefix + data
    decoder = _GBK_INCREMENTAL()
    try:
        decoded = decoder.decode(stream[1:], final=False)
    except UnicodeDecodeError:
        return None
    if not _plausible(decoded):
        return None
    pending = decoder.getstate()[0]
    return _Realigned(decoded, stream[0] if stream and stream[0] >= 0x40 else None,
                      pending[0] if len(pending) == 1 else None)


# A character of which one byte survived is put back only when, with the intact character beside
# it, it makes a word of jieba's dictionary that is both common and far more likely than what any
# other candidate would make: the evidence is one byte and one neighbour, so anything less is a guess.
_MIN_WORD_FREQUENCY = 100
_WORD_MARGIN = 10


@functools.lru_cache(maxsize=512)
def _half_candidates(byte: int, known_is_trail: bool) -> tuple[str, ...]:
    """The everyday characters whose GBK form has ``byte`` as its trail (or lead) byte."""
    common = common_han_chars()
    found = []
    for other in range(0x81, 0xFF):
        pair = bytes((other, byte)) if known_is_trail else bytes((byte, other))
        try:
            char = pair.decode("gbk")
        except UnicodeDecodeError:
            continue
        if char in common:
            found.append(char)
    return tuple(found)


def _completing_char(byte: int | None, known_is_trail: bool, left: str, right: str) -> str:
    """The character holding ``byte`` that makes a dictionary word with its intact neighbour
    (``left`` or ``right``, each one character or empty), or "" when none clearly does."""
    if byte is None or not (_HAN_CHAR.fullmatch(left) or _HAN_CHAR.fullmatch(right)):
        return ""
    jieba = segmenter()
    scored = []
    for char in _half_candidates(byte, known_is_trail):
        words = [left + char] if _HAN_CHAR.fullmatch(left) else []
        words += [char + right] if _HAN_CHAR.fullmatch(right) else []
        frequency = max(jieba.get_FREQ(to_simplified(word)) or 0 for word in words)
        if frequency:
            scored.append((frequency, char))
    scored.sort(reverse=True)
    if not scored or scored[0][0] < _MIN_WORD_FREQUENCY:
        return ""
    if len(scored) > 1 and scored[0][0] < _WORD_MARGIN * scored[1][0]:
        return ""
    return scored[0][1]


def _with_halves(realigned: _Realigned, marks: str, before: str, after: str) -> str:
    """``realigned`` with the characters of which one byte survived, where a dictionary word tells them."""
    text = realigned.text
    # The character before the marks touched the damaged one only when a single byte was lost there.
    left = before if marks.rstrip("!") == "?" else ""
    first = _completing_char(realigned.first_trail, True, left, (text + after)[:1])
    last = _completing_char(realigned.last_lead, False, (first + text)[-1:], after)
    return first + text + last


def _repair_lost_byte(match: re.Match[str]) -> str:
    text, start, stop = match.string, match.start(), match.end()
    marks, tail, end = match.group("marks"), match.group("tail"), match.group("end") or ""
    before = text[start - 1] if start else ""
    after = text[stop] if stop < len(text) else ""
    # The intact text after the damage: a '?' right after it stands for the lost trail byte.
    intact_after = text[stop + 1 : stop + 2] if after in "?\ufffd" else after
    near_cjk = bool(tail) or after in _CLAUSE_PUNCT or bool(before and _CJK_CHAR.match(before))
    if not near_cjk:
        return match.group()
    uncommon = _uncommon_han(tail)
    garbled_marks = len(marks) > 1 or "\ufffd" in marks
    if not garbled_marks:
        # A lone '?' is usually a question mark typed half-width; treat it as a lost byte only
        # when what follows is visibly garbled or it sits right before a comma-like mark.
        if tail and uncommon * 3 >= len(tail):
            realigned = _realigned(marks, tail + end)
            if realigned is not None:
                return _with_halves(realigned, marks, before, intact_after)
        if not tail and not end and after in _CLAUSE_PUNCT and _HAN_CHAR.match(before or "x"):
            return ""
        return match.group()
    if tail or end:
        realigned = _realigned(marks, tail + end)
        if realigned is not None and (uncommon or end or not tail):
            return _with_halves(realigned, marks, before, intact_after)
    return tail  # the marks (and a stray one-byte letter) carry nothing recoverable


def repair_lost_byte_runs(text: str) -> str:
    """Repair or drop the garbage a lost byte leaves in GBK text: ``在“?!鄙嫌写胧?、`` -> ``在“”上有措施、``.

    A character that kept one of its two bytes comes back when the dictionary word it makes with
    its neighbour says which it was (措 + the lead byte of 施); one that no word vouches for is
    dropped, as is U+FFFD.
    """
    if "?" not in text and "\ufffd" not in text:
        return text
    return _LOST_BYTE.sub(_repair_lost_byte, text)


# --- annotations and stray marks -----------------------------------------------------------

_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ"
_SYLLABLE = f"(?:[a-zü]{{0,5}}[{_TONED}][a-zü]{{0,5}}|[a-zü]{{1,6}}[1-5])"
_PINYIN = re.compile(f"(?P<han>[{HAN}])[ ]?[(（][ ]?(?P<py>{_SYLLABLE}(?:[ ]{_SYLLABLE}){{0,3}})[ ]?[)）]")
_TONE_MARK = re.compile(f"[{_TONED}1-5]")


def _is_pinyin(gloss: str) -> bool:
    """One to four syllables, each with exactly one tone (a tone mark or a tone number)."""
    return all(len(s) <= 7 and len(_TONE_MARK.findall(s)) == 1 for s in gloss.split(" "))


def _drop_pinyin(match: re.Match[str]) -> str:
    return match.group("han") if _is_pinyin(match.group("py")) else match.group()


# A gloss whose character and opening parenthesis were lost together ("?gòu)"), sometimes
# followed by the lost character's one-byte GBK trail ("?jī)H" for 僅 = 83 48).
_ORPHAN_PINYIN = re.compile(f"[?\ufffd](?P<py>{_SYLLABLE})[)）](?:[A-Za-z](?=[{HAN}]))?")


def _drop_orphan_pinyin(match: re.Match[str]) -> str:
    return "" if _is_pinyin(match.group("py")) else match.group()


def remove_pinyin_annotations(text: str) -> str:
    """Drop pinyin glosses after characters: ``會(huì)`` -> ``會``; ``(一)`` and ``(2023年…)`` stay.

    A gloss left without its character (``措施再?gòu)?qiáng)化``) is dropped whole.
    """
    if ")" not in text and "）" not in text:
        return text
    text = _PINYIN.sub(_drop_pinyin, text)
    return _ORPHAN_PINYIN.sub(_drop_orphan_pinyin, text)


_STRAY_MARK = re.compile(f"(?<=[{_CJK}])[`´]+|[`´]+(?=[{_CJK}])")


def remove_stray_marks(text: str) -> str:
    """Drop backticks stuck to Chinese text (``遇到的`困難`` -> ``遇到的困難``)."""
    if "`" not in text and "´" not in text:
        return text
    return _STRAY_MARK.sub("", text)


# --- boilerplate -------------------------------------------------------------------------

_BROADCAST_OPENING = re.compile(
    r"^[ ]*(?:央视网|央視網|中国网络电视台|中國網絡電視台)[ ]*(?:消息)?[ ]*"
    r"(?:[（(][ ]*(?:新闻联播|新聞聯播|焦点访谈|焦點訪談)[ ]*[）)])?[ ]*(?:消息)?[ ]*[:：][ ]*",
    re.M,
)
_EDITOR_CREDIT = re.compile(
    r"[（(][ ]*(?:(?:视频|視頻|文字|责任|責任)?(?:编辑|編輯)|记者|記者|撰稿)[ ]*[:：]"
    r"[^（）()\n]{1,60}[）)][ ]*$"
    r"|^[ ]*(?:责任编辑|責任編輯|编辑|編輯)[ ]*[:：][^\n]{0,30}$",
    re.M,
)


def remove_broadcast_boilerplate(text: str) -> str:
    """Drop the stock opening ``央视网消息（新闻联播）：`` and trailing ``（编辑：…）`` credits."""
    return _EDITOR_CREDIT.sub("", _BROADCAST_OPENING.sub("", text))


_DATE_VALUE = r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?(?:[ T]+\d{1,2}:\d{2}(?::\d{2})?)?"
_SITE_CHROME_LINE = re.compile(
    "^[ ]*(?:"
    rf"(?:发布|發布|更新)?(?:时间|時間|日期)[ ]*[:：][ ]*{_DATE_VALUE}"
    r"|(?:导语|導語)[ ]*[:：][^\n]*(?:来源|來源|网友|網友|本站|客服|参考|參考)[^\n]*"
    r"|(?:文章|稿件)?(?:来源|來源|出处|出處)[ ]*[:：][^\n]{0,50}"
    r"|[-•·*]?[ ]*(?:上一篇|下一篇)(?:文章)?[ ]*[:：][^\n]*"
    ")[ ]*$",
    re.M,
)


def remove_site_chrome_lines(text: str) -> str:
    """Drop article-site lines: ``時間:2022-09-18 09:36:00``, ``導語:…來源于網友上傳…``, ``- 上一篇:…``."""
    return _SITE_CHROME_LINE.sub("", text)


_DOWNLOAD_CHROME_LINE = re.compile(
    "^[ ]*(?:"
    r"分享|下载文档|下載文檔|收藏|收起|展开|展開|举报|舉報"
    r"|收藏[ ]*分享赚钱|收藏[ ]*分享賺錢"
    r"|此文档下载收益归作者所有|此文檔下載收益歸作者所有"
    r"|(?:ID|大小|页数|頁數|格式|字数|字數)[ ]*[:：][^\n]{0,30}"
    r"|(?:网站客服|網站客服|客服电话|客服電話|客服QQ)[ ]*[:：][^\n]{0,40}"
    r"|[^\n/\\]{1,100}\.(?:docx?|pdf|pptx?|xlsx?|wps)"
    ")[ ]*$",
    re.M | re.I,
)
_TIPS_BLOCK = re.compile(r"^[ ]*(?:温馨提示|溫馨提示)[ ]*[:：]?[^\n]*(?:\n[ ]*\d{1,2}[.．、][^\n]*)*", re.M)
_YOU_MAY_LIKE_TO_END = re.compile(
    r"^[ ]*(?:你可能关注的文档|你可能關注的文檔|猜你喜欢|猜你喜歡|相关文档|相關文檔)[\s\S]*\Z", re.M
)


def remove_download_chrome(text: str) -> str:
    """Drop document-download page chrome: share/download buttons, the ``xxx.docx`` name, the
    ID/大小/页数/格式 lines, the 温馨提示 block with its numbered items, 网站客服, and
    everything from 你可能关注的文档 on."""
    text = _YOU_MAY_LIKE_TO_END.sub("", text)
    text = _TIPS_BLOCK.sub("", text)
    return _DOWNLOAD_CHROME_LINE.sub("", text)


_RELATED_ARTICLES = re.compile(
    r"^[ ]*(?:【[^】\n]{1,100}】)?[ ]*(?:相关文章|相關文章|相关推荐|相關推薦|推荐阅读|推薦閱讀"
    r"|延伸阅读|延伸閱讀)[ ]*[:：]?[ ]*(?:\n[^\n。！？]{1,80})*(?=\n|\Z)",
    re.M,
)


def remove_related_articles(text: str) -> str:
    """Drop a ``【…】相關文章:`` heading and the list of short related titles under it."""
    return _RELATED_ARTICLES.sub("", text)


_TAG_TOKEN = r"[^\s，。、；：！？,.;:!?“”()（）《》【】]{2,8}"
_KEYWORD_TAG_LINE = re.compile(f"^[ ]*(?:{_TAG_TOKEN}[ ]+){{3,}}{_TAG_TOKEN}[ ]*$", re.M)
_TITLE_ZONE_LINES = 15
_TITLE_GAP = "[^、，,；;/ \n]{0,6}"  # what a title may hold between two cut-out keywords


def _cut_from(tokens: list[str], line: str) -> bool:
    """True when ``tokens`` occur in ``line`` in order, as pieces of one running title."""
    pattern = _TITLE_GAP.join(re.escape(t) for t in tokens)
    return re.search(pattern, line) is not None


def remove_keyword_tag_lines(text: str) -> str:
    """Drop a line of keywords cut from the title, such as ``2023 工业经济 推进 会上 致辞``.

    A line of four or more short space-separated words goes only when the words occur, in
    order and unseparated by list punctuation, in another line near the top (the title or
    the file name); lists of names or places stay.
    """
    if " " not in text:
        return text
    head_lines = text.split("\n", _TITLE_ZONE_LINES)[:_TITLE_ZONE_LINES]

    def drop(match: re.Match[str]) -> str:
        line = match.group().strip()
        tokens = line.split()
        if sum(1 for t in tokens if _HAN_CHAR.search(t)) < 3:
            return match.group()
        if any(other.strip() != line and _cut_from(tokens, other) for other in head_lines):
            return ""
        return match.group()

    return _KEYWORD_TAG_LINE.sub(drop, text)


_PAGE_FOOTER = re.compile(
    r"第[ ]*\d{1,4}[ ]*[页頁][ ]*[,，/]?[ ]*共[ ]*\d{1,4}[ ]*[页頁]"
    r"|^[ ]*[-—–][ ]*\d{1,4}[ ]*[-—–][ ]*$",
    re.M,
)


def remove_page_footers(text: str) -> str:
    """Drop page footers: ``第7页 共7页`` and ``- 3 -`` lines."""
    return _PAGE_FOOTER.sub("", text)


_GLUED_PAGE_NUMBER = re.compile(f"(?<=[{_CJK}])(?<!第)[ ]+(\\d{{1,3}})(?=[{HAN}])")
# Numbers typeset with a space on both sides ("連續 8 個月") mean the spaces are the author's.
_SPACE_DIGIT = re.compile(r" \d")
_SPACED_NUMBER = re.compile(f"[{HAN}][ ]\\d+[ ][{HAN}]")
_MIN_PAGE_CHARS = 200  # consecutive page numbers are at least a page apart


def remove_glued_page_numbers(text: str) -> str:
    """Drop page numbers that page breaks glued into sentences: ``市场宏 2观环境`` -> ``市场宏观环境``.

    A candidate is a 1-3 digit number with a space before it and an ideograph right after it.
    Only candidates whose values run 1, 2, 3, ... in reading order, a page apart, are page
    numbers; a lone ``3年`` stays, and so does every number in text that writes numbers with
    spaces around them. After ``。`` one space is left for the whitespace rule to turn into a
    paragraph break.
    """
    if not _SPACE_DIGIT.search(text):
        return text
    candidates = list(_GLUED_PAGE_NUMBER.finditer(text))
    if len(candidates) < 2 or _SPACED_NUMBER.search(text):
        return text
    values = [int(m.group(1)) for m in candidates]
    chain_len = [1] * len(values)
    previous: list[int | None] = [None] * len(values)
    for i, value in enumerate(values):
        for j in range(i):
            apart = candidates[i].start() - candidates[j].end() >= _MIN_PAGE_CHARS
            if values[j] == value - 1 and apart and chain_len[j] + 1 > chain_len[i]:
                chain_len[i], previous[i] = chain_len[j] + 1, j
    best = max(range(len(values)), key=chain_len.__getitem__)
    if chain_len[best] < 2:
        return text
    page_numbers: set[int] = set()
    cursor: int | None = best
    while cursor is not None:
        page_numbers.add(cursor)
        cursor = previous[cursor]
    pieces, last = [], 0
    for i, m in enumerate(candidates):
        if i in page_numbers:
            # After a full stop the page break was also a paragraph break; mid-word it was nothing.
            pieces.append(text[last : m.start()] + (" " if text[m.start() - 1] in _STOPS else ""))
            last = m.end()
    pieces.append(text[last:])
    return "".join(pieces)


# --- whitespace ----------------------------------------------------------------------------

_CJK_GAP = re.compile(f"([{_CJK}])[{_SPACE}]+(?=[{_CJK}])")
# In a document flattened into one line (a .docx saved as text), a space after a full stop,
# a colon or a closing bracket was a paragraph break.
_FLAT_BREAK = re.compile(f"(?P<stop>[。！？；：]|(?<=[{HAN}])[:;!?)])[{_SPACE}]+(?=[{_CJK}(])")
_SENTENCE_END = re.compile("[。！？]")
_HAN_GAP = re.compile(f"([{HAN}])[ ]+(?=[{HAN}])")
_HEADING_START = re.compile(
    r"(?:[一二三四五六七八九十]{1,3}、|[（(][一二三四五六七八九十]{1,3}[）)]|第[一二三四五六七八九十]{1,3}[，,、：:])"
)
_FLATTENED_MIN_CHARS = 1000
_MULTI_SPACE = re.compile("[ ]{2,}")
_LINE_EDGE_SPACE = re.compile("[ ]*\n[ ]*")
_BLANK_RUN = re.compile("\n{3,}")


def _is_flattened(line: str) -> bool:
    """A long line where some, not most, sentence ends are followed by a space: paragraphs
    joined with spaces. (Text that puts a space after every sentence is just spaced.)"""
    if len(line) < _FLATTENED_MIN_CHARS:
        return False
    breaks = len(_FLAT_BREAK.findall(line))
    return breaks >= 5 and breaks * 2 <= len(_SENTENCE_END.findall(line))


def _heading_gap(match: re.Match[str]) -> str:
    """Inside a flattened paragraph, a space that ends a short heading, title or byline."""
    before = match.string[: match.start() + 1]
    if _HEADING_START.match(match.string, match.end()) or (6 <= len(before) <= 40 and "。" not in before):
        return match.group(1) + "\n"
    return match.group()


def _unflatten(line: str) -> str:
    parts = _FLAT_BREAK.sub("\\g<stop>\n", line).split("\n")
    return "\n".join(_HAN_GAP.sub(_heading_gap, part) for part in parts)


def _cjk_gap(match: re.Match[str]) -> str:
    """Spaces between two ideographs are a word boundary (``記者 王彬彬``, ``敬請 各位``) and
    become one space; next to Chinese punctuation they are noise and go."""
    left = match.group(1)
    if _HAN_CHAR.match(left) and _HAN_CHAR.match(match.string, match.end()):
        return left + " "
    return left


def normalize_whitespace(text: str) -> str:
    """Strip lines, collapse spaces (inside Chinese text: one between ideographs, none next to
    punctuation), split a document flattened into one line back into paragraphs, and keep at
    most one blank line."""
    text = _ODD_SPACE.sub(" ", text)
    if " " in text:
        text = "\n".join(_unflatten(line) if _is_flattened(line) else line for line in text.split("\n"))
        text = _CJK_GAP.sub(_cjk_gap, text)
    text = _MULTI_SPACE.sub(" ", text)
    text = _LINE_EDGE_SPACE.sub("\n", text)
    return _BLANK_RUN.sub("\n\n", text).strip()


# --- the pipeline --------------------------------------------------------------------------

CLEANING_RULES: tuple[Callable[[str], str], ...] = (
    repair_wrong_codec_runs,  # first: cp1252 mojibake holds C1 characters that the next rule drops
    drop_control_chars,
    remove_pinyin_annotations,
    repair_lost_byte_runs,
    remove_stray_marks,
    remove_broadcast_boilerplate,
    remove_site_chrome_lines,
    remove_keyword_tag_lines,
    remove_download_chrome,
    remove_related_articles,
    remove_page_footers,
    remove_glued_page_numbers,
    normalize_whitespace,
)


def clean_text(text: str) -> str:
    """Apply every rule in ``CLEANING_RULES`` in order.

    Args:
        text: a document's text as a reader decoded it.

    Returns:
        The text without site/download boilerplate, broadcast credits, pinyin glosses,
        mojibake or glued page numbers, with paragraphs one per line and at most one blank line.
    """
    for rule in CLEANING_RULES:
        text = rule(text)
    return text
