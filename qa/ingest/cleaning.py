"""Boilerplate and noise removal for speech texts.

``clean_text`` runs a fixed sequence of small, pure rules (``CLEANING_RULES``); each rule takes
text and returns text and has its own test built from a real line of the sample corpus. The
rules never convert Traditional <-> Simplified and never change full-width punctuation: the
stored text keeps its original script and typography (matching uses ``qa.text.normalize``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from qa.ingest.mojibake import repair_lost_byte_runs, repair_wrong_codec_runs
from qa.text.normalize import HAN

# --- character classes -------------------------------------------------------------------

# CJK symbols and punctuation, full-width forms, and the curly quotes / ellipsis / dashes that
# Chinese text shares with Western typography.
_CJK_PUNCT = "\u3001-\u3003\u3008-\u3011\u3014-\u301f\uff01-\uff65“”‘’…—·"
_CJK = HAN + _CJK_PUNCT
_HAN_CHAR = re.compile(f"[{HAN}]")
_SPACE = " \t\u3000\xa0\u2002-\u200a"
_STOPS = "。！？；：!?;:"  # characters after which a line break is a paragraph break


# --- control characters and odd spaces ------------------------------------------------------

_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff\ud800-\udfff]")
_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x85\u2028\u2029]")  # form feed: a PDF page break
_ODD_SPACE = re.compile(f"[{_SPACE[1:]}]")  # everything in _SPACE except the plain space


def drop_control_chars(text: str) -> str:
    """Unify line ends, drop control and zero-width characters, turn odd spaces into spaces."""
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROL.sub("", text)
    return _ODD_SPACE.sub(" ", text)


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
