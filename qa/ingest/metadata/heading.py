"""What the head of a speech's raw text states: its title, a byline (``在…上的讲话 陈章平 (2023年5月11日
在腊口镇四楼会议室)``), a speech date on a line of its own, a publication date, a file name.

Boilerplate removal deletes some of these lines, so they are read from the raw text.
"""

from __future__ import annotations

import re

from qa.ingest.cleaning import normalize_whitespace, remove_pinyin_annotations
from qa.ingest.dates import TEXT_DATE, iso_date, normalize_date
from qa.ingest.metadata.names import is_person_name
from qa.text.normalize import HAN_BASIC

HEAD_CHARS = 1500  # bylines and speech dates sit under the title, near the top

# --- title -------------------------------------------------------------------------------

_TITLE_TAG = re.compile(r"^\s*(?:\[[^\]]{1,6}\]\s*)+")  # "[视频]" on news titles
_NOT_A_TITLE_END = tuple("。！？：:；;，,、")
_HEADING_MARK = re.compile(r"^(?:[一二三四五六七八九十]{1,3}、|[（(][一二三四五六七八九十\d]{1,3}[）)]|\d{1,2}[、.．])")
_SALUTATION = re.compile(r"^(?:各位|尊敬的|同志们|同志們|女士们|女士們|朋友们|朋友們)")
_FILE_NAME_LINE = re.compile(r"^[ \t]*([^\n/\\]{4,100}?)\.(?:docx?|pdf|wps)[ \t]*$", re.M | re.I)
_HAN_CHAR = re.compile(f"[{HAN_BASIC}]")


def tidy_title(title: str) -> str | None:
    """A title without news tags ("[视频]"), pinyin annotations and runs of spaces; None when nothing is left."""
    title = _TITLE_TAG.sub("", title) or title
    title = normalize_whitespace(remove_pinyin_annotations(title))
    title = " ".join(title.split())
    return title or None


def _looks_like_title(line: str) -> bool:
    return (
        4 <= len(line) <= 60
        and len(_HAN_CHAR.findall(line)) >= 4
        and not line.endswith(_NOT_A_TITLE_END)
        and "。" not in line
        and not _HEADING_MARK.match(line)
        and not _SALUTATION.match(line)
    )


def first_line_title(cleaned: str) -> str | None:
    """The first line of the cleaned text, when it reads as a title rather than a sentence or a heading."""
    for line in cleaned.split("\n"):
        if line.strip():
            return tidy_title(line) if _looks_like_title(line.strip()) else None
    return None


# --- byline: "在…上的讲话 陈章平 (2023年5月11日在腊口镇四楼会议室)" ---------------------------

_PAREN_DATE = re.compile(
    rf"[（(]\s*{TEXT_DATE}\s*(?:[，,、]?\s*(?:在|于|於)?\s*(?P<place>[^（）()\n，,。；;]{{2,30}}?))?\s*[）)]"
)
_NAME_BEFORE = re.compile(rf"(?:^|(?<=\s))(?P<name>[{HAN_BASIC}](?:[ \u3000]?[{HAN_BASIC}]){{1,3}})(?:同志)?\s*$")
_NOT_A_PLACE = re.compile(r"(?:上|时|時)?的?(?:讲话|講話|致辞|致辭|发言|發言|报告|報告)$|会议上|會議上")
_DATE_LINE = re.compile(rf"^\s*{TEXT_DATE}\s*$", re.M)


def byline(head: str) -> tuple[str | None, str | None, str | None, str | None]:
    """(title, speaker, date, place) from a parenthesised speech date near the top."""
    match = _PAREN_DATE.search(head)
    if not match or (match.end() < len(head) and not head[match.end()].isspace()):
        return None, None, None, None  # "明天（2026年1月1日）出版的…" is a sentence, not a byline
    date = iso_date(match["y"], match["m"], match["d"])
    place = match["place"].strip() if match["place"] else None
    if place and (_NOT_A_PLACE.search(place) or not _HAN_CHAR.search(place)):
        place = None
    before = head[: match.start()]
    speaker = title = None
    name_match = _NAME_BEFORE.search(before)
    if name_match:
        name = re.sub(r"[ \u3000]", "", name_match["name"])
        if is_person_name(name):
            speaker = name
            before = before[: name_match.start()]
    lines = [line.strip() for line in before.split("\n") if line.strip()]
    if lines and speaker and _looks_like_title(lines[-1]):
        title = tidy_title(lines[-1])
    return title, speaker, date, place


def date_line(head: str) -> str | None:
    """A date on a line of its own among the first lines, as ISO."""
    first_lines = "\n".join(head.split("\n")[:6])
    match = _DATE_LINE.search(first_lines)
    return iso_date(match["y"], match["m"], match["d"]) if match else None


# --- a speaker named with a role: "县长陈章平作动员讲话", or by the title ---------------------------

_ROLE = (
    r"(?:书记|書記|县长|縣長|市长|市長|省长|省長|镇长|鎮長|区长|區長|主席|总理|總理|部长|部長|主任|局长|局長"
    r"|总统|總統|校长|校長|院长|院長|董事长|董事長|总经理|總經理)"
)
_ROLE_SPEAKS = re.compile(
    _ROLE + rf"(?P<name>[{HAN_BASIC}]{{2,4}}?)(?:同志)?(?:作|做|发表|發表|致)了?"
    r"(?:动员|動員|重要|主题|主題|工作|总结|總結)?(?:讲话|講話|报告|報告|致辞|致辭)"
)
_TITLE_SPEAKER = re.compile(
    rf"^(?P<name>[{HAN_BASIC}]{{2,4}}?)(?:同志)?[：:]?\s*在.{{2,60}}?(?:讲话|講話|致辞|致辭|发言|發言)"
)

# A line of its own under the title naming the office, then the name: "县长 王明远", "中共某县委书记　李华".
_ROLE_LINE = re.compile(
    rf"^[ \u3000]*(?:[{HAN_BASIC}、]{{0,12}}?){_ROLE}[ \u3000:：]*(?P<name>[{HAN_BASIC}](?:[ \u3000]?[{HAN_BASIC}]){{1,3}})"
    r"(?:同志)?[ \u3000]*$"
)
_ROLE_LINES = 6  # the first lines, where a byline stands

_SPEECH_WORDS = ("讲话", "講話", "报告", "報告", "致辞", "致辭")


def speaker_from_text(head: str, title: str | None) -> str | None:
    """Who speaks, as the title ("陈章平在…上的讲话"), a line under it ("县长 王明远") or a role and a speech
    ("县长陈章平作动员讲话") names them."""
    if title:
        match = _TITLE_SPEAKER.match(title)
        if match and is_person_name(match["name"]):
            return match["name"]
    for line in head.split("\n")[:_ROLE_LINES]:
        match = _ROLE_LINE.match(line)
        if match:
            name = re.sub(r"[ \u3000]", "", match["name"])
            if is_person_name(name):
                return name
    if not any(word in head for word in _SPEECH_WORDS):
        return None  # what _ROLE_SPEAKS ends with; a substring test is much cheaper than its scan
    for match in _ROLE_SPEAKS.finditer(head):
        if is_person_name(match["name"]):
            return match["name"]
    return None


# --- publication date: "時間:2022-09-18 09:36:00" ---------------------------------------------

_PUBLISHED_LINE = re.compile(
    r"^[ \t]*(?:发布|發布|更新|发表|發表)?(?:时间|時間|日期)[ \t]*[:：][ \t]*(?P<value>[^\n]{6,30})$", re.M
)


def published_date(raw_text: str) -> str | None:
    """The ISO date of the first ``时间:`` line that holds a date."""
    for match in _PUBLISHED_LINE.finditer(raw_text):
        date = normalize_date(match["value"])
        if date:
            return date
    return None


def file_name_title(raw_text: str) -> str | None:
    """The document name a download page shows (``2023年在全镇工业经济推进会上的致辞.docx``)."""
    match = _FILE_NAME_LINE.search(raw_text[:HEAD_CHARS])
    return tidy_title(match.group(1)) if match else None
