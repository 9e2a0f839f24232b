"""Title, date, speaker and place of a speech, from its record fields and its raw text.

Clues that boilerplate removal deletes (the ``时间:2023-04-20`` line of a download page, the
byline under a title) are read from the raw text; nothing is ever guessed: unknown is None.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re

from qa.cleaning import normalize_whitespace, remove_pinyin_annotations
from qa.textnorm import fold_width, normalize_for_matching, to_traditional
from qa.types import Metadata, RawDocument

HEAD_CHARS = 1500  # bylines and speech dates sit under the title, near the top

# --- dates -------------------------------------------------------------------------------

_CN_DIGITS = {ch: i for i, ch in enumerate("〇一二三四五六七八九")} | {"○": 0, "零": 0, "O": 0, "Ｏ": 0}
_NUMBER = r"(?:\d{1,4}|[〇○零OＯ一二三四五六七八九十]{1,4})"
_FIELD_DATE = re.compile(
    r"(?P<y>\d{4})\s*(?:[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?|(?P<m2>\d{2})(?P<d2>\d{2}))(?!\d)"
)
_TEXT_DATE = f"(?P<y>{_NUMBER})\\s*年\\s*(?P<m>{_NUMBER})\\s*月\\s*(?P<d>{_NUMBER})\\s*[日号號]"


def _cn_number(value: str) -> int | None:
    """'2023' -> 2023, '二〇二三' -> 2023, '十一' -> 11, '二十' -> 20; None when it is not a number."""
    if value.isdigit():
        return int(value)
    if "十" in value:
        tens, _, ones = value.partition("十")
        tens_digit = _CN_DIGITS.get(tens) if tens else 1
        ones_digit = _CN_DIGITS.get(ones) if ones else 0
        if tens_digit is None or ones_digit is None:
            return None
        return tens_digit * 10 + ones_digit
    digits = [_CN_DIGITS.get(ch) for ch in value]
    if any(d is None for d in digits):
        return None
    return int("".join(str(d) for d in digits))


def _iso(year: str, month: str, day: str) -> str | None:
    y, m, d = _cn_number(year), _cn_number(month), _cn_number(day)
    if y is None or m is None or d is None or not 1900 <= y <= 2100:
        return None
    try:
        return dt.date(y, m, d).isoformat()
    except ValueError:
        return None


def normalize_date(value: str) -> str | None:
    """A date field as ISO ``yyyy-mm-dd``, or None when it is not a valid date.

    Accepts ``2022-09-18 09:36:00``, ``2022/9/18``, ``2022.9.18``, ``20220918``, ``2022年9月18日``
    and ``二〇二二年九月十八日``, in ASCII or full-width digits.
    """
    value = fold_width(str(value)).strip()
    match = _FIELD_DATE.match(value)
    if match:
        return _iso(match["y"], match["m"] or match["m2"], match["d"] or match["d2"])
    match = re.match(_TEXT_DATE, value)
    return _iso(match["y"], match["m"], match["d"]) if match else None


# --- names -------------------------------------------------------------------------------

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
    "向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕"
    "单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚"
    "娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池"
    "查麻苑迟邝栗蔺习"
)
_COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "诸葛",
    "上官",
    "东方",
    "夏侯",
    "令狐",
    "皇甫",
    "公孙",
    "慕容",
    "长孙",
    "宇文",
    "司徒",
    "端木",
)


@functools.lru_cache(maxsize=1)
def _surnames() -> tuple[frozenset[str], tuple[str, ...]]:
    single = set(_SURNAMES) | set(to_traditional(_SURNAMES))
    compound = set(_COMPOUND_SURNAMES) | {to_traditional(s) for s in _COMPOUND_SURNAMES}
    return frozenset(single), tuple(sorted(compound))


def _is_person_name(name: str) -> bool:
    """2-4 ideographs starting with a common surname (simplified or traditional)."""
    single, compound = _surnames()
    if name.startswith(compound):
        return 3 <= len(name) <= 4
    return 2 <= len(name) <= 3 and name[0] in single


# --- title -------------------------------------------------------------------------------

_TITLE_TAG = re.compile(r"^\s*(?:\[[^\]]{1,6}\]\s*)+")  # "[视频]" on news titles
_NOT_A_TITLE_END = tuple("。！？：:；;，,、")
_HEADING_MARK = re.compile(r"^(?:[一二三四五六七八九十]{1,3}、|[（(][一二三四五六七八九十\d]{1,3}[）)]|\d{1,2}[、.．])")
_SALUTATION = re.compile(r"^(?:各位|尊敬的|同志们|同志們|女士们|女士們|朋友们|朋友們)")
_FILE_NAME_LINE = re.compile(r"^[ \t]*([^\n/\\]{4,100}?)\.(?:docx?|pdf|wps)[ \t]*$", re.M | re.I)
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]")


def _tidy_title(title: str) -> str | None:
    title = _TITLE_TAG.sub("", title) or title
    title = normalize_whitespace(remove_pinyin_annotations(title))
    title = " ".join(title.split())
    return title or None


def _looks_like_title(line: str) -> bool:
    return (
        4 <= len(line) <= 60
        and len(_HAN_RUN.findall(line)) >= 4
        and not line.endswith(_NOT_A_TITLE_END)
        and "。" not in line
        and not _HEADING_MARK.match(line)
        and not _SALUTATION.match(line)
    )


def _first_line_title(cleaned: str) -> str | None:
    for line in cleaned.split("\n"):
        if line.strip():
            return _tidy_title(line) if _looks_like_title(line.strip()) else None
    return None


# --- byline: "在…上的讲话 陈章平 (2023年5月11日在腊口镇四楼会议室)" ---------------------------

_PAREN_DATE = re.compile(
    rf"[（(]\s*{_TEXT_DATE}\s*(?:[，,、]?\s*(?:在|于|於)?\s*(?P<place>[^（）()\n，,。；;]{{2,30}}?))?\s*[）)]"
)
_NAME_BEFORE = re.compile(r"(?:^|(?<=\s))(?P<name>[\u4e00-\u9fff](?:[ \u3000]?[\u4e00-\u9fff]){1,3})(?:同志)?\s*$")
_NOT_A_PLACE = re.compile(r"(?:上|时|時)?的?(?:讲话|講話|致辞|致辭|发言|發言|报告|報告)$|会议上|會議上")
_DATE_LINE = re.compile(rf"^\s*{_TEXT_DATE}\s*$", re.M)


def _byline(head: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(title, speaker, date, place) from a parenthesised speech date near the top."""
    match = _PAREN_DATE.search(head)
    if not match:
        return None, None, None, None
    date = _iso(match["y"], match["m"], match["d"])
    place = match["place"].strip() if match["place"] else None
    if place and (_NOT_A_PLACE.search(place) or not _HAN_RUN.search(place)):
        place = None
    before = head[: match.start()]
    speaker = title = None
    name_match = _NAME_BEFORE.search(before)
    if name_match:
        name = re.sub(r"[ \u3000]", "", name_match["name"])
        if _is_person_name(name):
            speaker = name
            before = before[: name_match.start()]
    lines = [line.strip() for line in before.split("\n") if line.strip()]
    if lines and speaker and _looks_like_title(lines[-1]):
        title = _tidy_title(lines[-1])
    return title, speaker, date, place


_ROLE = (
    r"(?:书记|書記|县长|縣長|市长|市長|省长|省長|镇长|鎮長|区长|區長|主席|总理|總理|部长|部長|主任|局长|局長"
    r"|总统|總統|校长|校長|院长|院長|董事长|董事長|总经理|總經理)"
)
_ROLE_SPEAKS = re.compile(
    _ROLE + r"(?P<name>[\u4e00-\u9fff]{2,4}?)(?:同志)?(?:作|做|发表|發表|致)了?"
    r"(?:动员|動員|重要|主题|主題|工作|总结|總結)?(?:讲话|講話|报告|報告|致辞|致辭)"
)
_TITLE_SPEAKER = re.compile(
    r"^(?P<name>[\u4e00-\u9fff]{2,4}?)(?:同志)?[：:]?\s*在.{2,60}?(?:讲话|講話|致辞|致辭|发言|發言)"
)


def _speaker_from_text(head: str, title: str | None) -> str | None:
    if title:
        match = _TITLE_SPEAKER.match(title)
        if match and _is_person_name(match["name"]):
            return match["name"]
    for match in _ROLE_SPEAKS.finditer(head):
        if _is_person_name(match["name"]):
            return match["name"]
    return None


# --- publication date: "時間:2022-09-18 09:36:00" ---------------------------------------------

_PUBLISHED_LINE = re.compile(
    r"^[ \t]*(?:发布|發布|更新|发表|發表)?(?:时间|時間|日期)[ \t]*[:：][ \t]*(?P<value>[^\n]{6,30})$", re.M
)


def _published_date(raw_text: str) -> str | None:
    for match in _PUBLISHED_LINE.finditer(raw_text):
        date = normalize_date(match["value"])
        if date:
            return date
    return None


def extract_metadata(raw: RawDocument, cleaned: str) -> Metadata:
    """Title, date (with its kind), speaker and place of one document.

    Args:
        raw: the document as read; its fields win, and its text holds clues that cleaning drops.
        cleaned: ``clean_text(raw.text)``.

    Returns:
        Metadata where ``date_kind`` is "speech" when the text states when the speech was given
        (``(2023年5月11日在…)``), "published" for a publication date (a ``时间:`` line or the
        record's date), and every field nobody stated is None.
    """
    head = raw.text[:HEAD_CHARS]
    byline_title, speaker, speech_date, place = _byline(head)
    if speech_date is None:
        first_lines = "\n".join(head.split("\n")[:6])
        line_match = _DATE_LINE.search(first_lines)
        speech_date = _iso(line_match["y"], line_match["m"], line_match["d"]) if line_match else None
    title = (
        (_tidy_title(raw.title) if raw.title else None)
        or byline_title
        or _first_line_title(cleaned)
        or _file_name_title(raw.text)
    )
    date: str | None
    date_kind: str | None
    if speech_date:
        date, date_kind = speech_date, "speech"
    else:
        date = _published_date(raw.text) or raw.date
        date_kind = "published" if date else None
    return Metadata(
        title=title,
        date=date,
        date_kind=date_kind,
        speaker=raw.speaker or speaker or _speaker_from_text(head, title),
        place=raw.place or place,
    )


def _file_name_title(raw_text: str) -> str | None:
    """The document name a download page shows (``2023年在全镇工业经济推进会上的致辞.docx``)."""
    match = _FILE_NAME_LINE.search(raw_text[:HEAD_CHARS])
    return _tidy_title(match.group(1)) if match else None


def content_hash(cleaned: str) -> str:
    """SHA-256 hex of the matching form of the text: a Simplified and a Traditional copy of one
    speech, or copies that differ only in spacing and punctuation width, hash the same."""
    return hashlib.sha256(normalize_for_matching(cleaned).encode("utf-8")).hexdigest()
