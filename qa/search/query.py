"""A query read once into a value: its script and language, the words BM25 looks for, and the dates,
people and names it names.

Everything later stages need from the raw query is derived here, so retrieval never re-reads it.
What the query names (a year, a month, a speaker) becomes a soft preference, shown to the user and
removable, never a silent filter; so does how an English question's names were read (Sandra Oudkirk
→ 孫曉雅, qa.search.name_reading).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace

from qa.errors import BadInputError
from qa.search.name_reading import NameReader, Reading
from qa.search.ranking import DEFAULT_RANKING, ClauseRule
from qa.text.normalize import HAN_BASIC, fold_width, lexical_form, to_simplified, to_traditional

# ROC (民國) years are Gregorian minus 1911. A bare "113年" is read as ROC only in the range the
# Republic's recent years take, so "40週年" or "建党100年" are not mistaken for dates.
ROC_OFFSET = 1911
ROC_BARE_YEARS = range(101, 131)
YEARS = range(1950, 2100)

_ROC_PREFIXED = re.compile(r"民[國国]\s*(\d{2,3})\s*年")
_ROC_BARE = re.compile(r"(?<![\d.])(\d{3})\s*年(?!代)")
_GREGORIAN_YEAR = re.compile(r"(?<![\d.])((?:19|20)\d{2})(?:\s*年(?!代)|(?=[^\d年%％万亿元人个家组台辆吨米件项次倍]|$))")
_MONTH_AFTER_YEAR = re.compile(r"\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*月(?:\s*(\d{1,2})\s*[日号號](?!\d))?")
_MONTH_ALONE = re.compile(r"(?<![\d年])(\d{1,2}|十[一二]?|[一二三四五六七八九])\s*月份")
_ENGLISH_MONTHS = {
    name: number
    for number, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
         ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
         ("november", "nov"), ("december", "dec")],
        start=1,
    )
    for name in names
}
_ENGLISH_DATE = re.compile(r"\b(?:(?P<month>[A-Za-z]{3,9})\.?\s+)?(?P<year>(?:19|20)\d{2})\b")
# A day is read only beside a capitalised month name ("May 15" and "15 May", not "may 15 of them").
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR_AFTER = r"(?:,?\s+(?P<year>(?:19|20)\d{2}))?"
_MONTH_RANGE_OPENING = re.compile(r"\b([A-Za-z]{3,9})\.?\s*(?:[–—-]|\bto\b|\bthrough\b)\s*$")
_MONTH_NAME = "|".join(sorted((name.capitalize() for name in _ENGLISH_MONTHS), key=len, reverse=True))
_ENGLISH_DAY = re.compile(
    rf"\b(?:(?P<month>{_MONTH_NAME})\.?\s+{_DAY}|{_DAY.replace('day>', 'day2>')}\s+(?:of\s+)?(?P<month2>{_MONTH_NAME})\b\.?)"
    rf"(?![\w:]){_YEAR_AFTER}\b")
_CN_MONTH = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10, "十一": 11, "十二": 12}


@dataclass(frozen=True)
class NamedDate:
    """A year, a month of a year or a day that the query names; month (and day) without year when only
    those are named."""

    year: int | None
    month: int | None = None
    day: int | None = None  # only with a month

    def label(self) -> str:
        if self.year is None:
            return f"{self.month}月{self.day}日" if self.day else f"{self.month}月"
        if self.day:
            return f"{self.year}-{self.month:02d}-{self.day:02d}"
        return f"{self.year}-{self.month:02d}" if self.month else str(self.year)

    def in_chinese(self) -> str:
        """The date as Chinese texts write it: 2026年5月15日, 2025年4月, 3月4日."""
        year = f"{self.year}年" if self.year else ""
        return year + (f"{self.month}月" if self.month else "") + (f"{self.day}日" if self.day else "")

    def day_reported(self, year: int | None = None) -> tuple[datetime.date, datetime.date] | None:
        """The first and last day a document reporting this named day is dated: that day or the next, as news
        of a day's events is often dated. `year` stands in for one the query did not name. None for a
        month or year named alone, or a day no calendar has (31 April)."""
        if not self.day or not self.month or not (self.year or year):
            return None
        try:
            day = datetime.date(self.year or year or 0, self.month, self.day)
        except ValueError:
            return None
        return day, day + datetime.timedelta(days=1)

    def periods(self) -> list[tuple[datetime.date, datetime.date]]:
        """The periods (first and last day) this date covers, each drawing candidates of its own: its year or
        month, and for a named day also the days that report it (day_reported); none without a year."""
        if self.year is None:
            return []
        first = datetime.date(self.year, self.month or 1, 1)
        last = (first + datetime.timedelta(days=31)).replace(day=1) - datetime.timedelta(days=1) if self.month \
            else datetime.date(self.year, 12, 31)
        reported = self.day_reported()
        return [(first, last), reported] if reported else [(first, last)]

    def fits_day(self, iso_date: str | None) -> bool:
        """Whether a document dated `iso_date` reports this named day (day_reported; a month or year named
        alone fits no day)."""
        if not self.day or not iso_date or len(iso_date) < 10:
            return False
        try:
            dated = datetime.date.fromisoformat(iso_date[:10])
        except ValueError:
            return False
        reported = self.day_reported(dated.year)
        return reported is not None and reported[0] <= dated <= reported[1]

    def stated_in(self, folded_text: str) -> bool:
        """Whether a text (in its lexical form) states this month or day with its year, as written in the common
        era or the ROC calendar (115年3月): an event named by its month need not be dated in it (the March
        promotions are held in February)."""
        if self.year is None or self.month is None:
            return False  # a year alone is stated by most of a year's texts; a month without year, by every year's
        day = f"{self.day}日" if self.day else ""
        return any(f"{year}年{self.month}月{day}" in folded_text for year in (self.year, self.year - 1911) if year > 0)

    def matches(self, iso_date: str | None) -> bool:
        if not iso_date or len(iso_date) < 7:
            return False
        year, month = int(iso_date[:4]), int(iso_date[5:7])
        if self.year is not None and year != self.year:
            return False
        return self.month is None or month == self.month


@dataclass(frozen=True)
class QueryAnalysis:
    text: str  # the query as validated
    simplified: str  # script- and width-normalised, lower case: what matching compares
    english: bool
    dates: tuple[NamedDate, ...] = ()
    speakers: tuple[str, ...] = field(default=())  # speakers of the collection the query names
    clauses: tuple[str, ...] = ()  # its clauses, where it has more than one (each is matched on its own)
    names: tuple[Reading, ...] = ()  # an English question's names read by the collection's name pairs
    rendering: str | None = None  # a hybrid English question in Chinese words, embedded beside it

    @property
    def preferences(self) -> dict[str, list[str]]:
        """What the query names, as shown to the user."""
        out: dict[str, list[str]] = {}
        if self.dates:
            out["dates"] = [d.label() for d in self.dates]
        if self.speakers:
            out["speakers"] = list(self.speakers)
        if self.names:
            out["names"] = [reading.label() for reading in self.names]
        if self.rendering:
            out["readings"] = [self.rendering]
        return out

    def filters(self) -> list[tuple[str, str]]:
        """(kind, value) of each date and speaker the query names, as the API lists and the user switches
        them off: date 2024, speaker 賴清德."""
        return [("date", d.label()) for d in self.dates] + [("speaker", name) for name in self.speakers]

    def name_filters(self) -> list[tuple[str, str]]:
        """(kind, value) of each name read, as the API lists and the user switches them off: name
        Sandra Oudkirk → 孫曉雅 (or by the English alone, name:Sandra Oudkirk)."""
        return [("name", reading.label()) for reading in self.names]

    def reading_filters(self) -> list[tuple[str, str]]:
        """(kind, value) of an English question's Chinese rendering, as the API lists it and the user
        switches it off: reading 蔡英文专访杂志说…"""
        return [("reading", self.rendering)] if self.rendering else []

    def without(self, switched_off: Collection[tuple[str, str]]) -> QueryAnalysis:
        """The analysis less the named dates, speakers, name readings and Chinese rendering the user switched
        off (kind, value as `filters`, `name_filters` and `reading_filters` give them)."""
        if not switched_off:
            return self
        return replace(self, dates=tuple(d for d in self.dates if ("date", d.label()) not in switched_off),
                       speakers=tuple(name for name in self.speakers if ("speaker", name) not in switched_off),
                       names=tuple(reading for reading in self.names if ("name", reading.label()) not in switched_off
                                   and ("name", reading.english) not in switched_off),
                       rendering=self.rendering if ("reading", self.rendering) not in switched_off else None)


FILTER_KINDS = ("date", "speaker", "name", "reading")


def parse_switched_off(values: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """`kind:value` strings (date:2024, speaker:賴清德), as a request names what the query reading should not apply."""
    parsed = []
    for value in values:
        if not value.strip():
            continue  # a blank, as forms send one, switches nothing off
        kind, colon, named = value.partition(":")
        if not colon or kind.strip() not in FILTER_KINDS or not named.strip():
            raise BadInputError(f"ignore_filter takes kind:value as applied_filters lists them (date:2024, "
                                f"speaker:賴清德, name:AIT), kind one of {', '.join(FILTER_KINDS)}; not {value!r}")
        parsed.append((kind.strip(), named.strip()))
    return tuple(dict.fromkeys(parsed))


def _month_number(value: str) -> int | None:
    number = int(value) if value.isdigit() else _CN_MONTH.get(value)
    return number if number and 1 <= number <= 12 else None


def _day_number(value: str) -> int | None:
    number = int(value)
    return number if 1 <= number <= 31 else None


def named_dates(text: str) -> tuple[NamedDate, ...]:
    """Years, months and days a query names: 2022年, 2025年11月, 2022年9月18日, 民國113年 / 113年 (ROC),
    115年3月份, 3月份, July 2025, 15 May 2026, January 21, 2025."""
    return tuple(dict.fromkeys(date for date, _ in _dates_in(fold_width(text))))


def without_dates(text: str) -> str:
    """`text` with the months and days it names blanked out (15 May 2026, April 2026: Chinese writes them
    otherwise, 2026年5月15日), for word-by-word translation; a year alone is a number written alike."""
    for date, (start, end) in sorted(_dates_in(text), key=lambda found: -found[1][0]):
        if date.month:
            text = text[:start] + " " + text[end:]
    return text


def _dates_in(text: str) -> list[tuple[NamedDate, tuple[int, int]]]:
    """Each date `text` names with its span, in the order named_dates reads them."""
    found: list[tuple[NamedDate, tuple[int, int]]] = []
    taken: list[tuple[int, int]] = []

    def free(at: int) -> bool:
        return not any(start <= at < end for start, end in taken)

    for match in _ENGLISH_DAY.finditer(text):  # "15 May 2026", "January 21, 2025", "February 8"
        month = _ENGLISH_MONTHS.get((match["month"] or match["month2"]).lower())
        day = _day_number(match["day"] or match["day2"])
        year = int(match["year"]) if match["year"] else None
        if month and day and (year is None or year in YEARS):
            taken.append((match.start(), match.end()))
            found.append((NamedDate(year, month, day), taken[-1]))
    for match in _ENGLISH_DATE.finditer(text):  # "July 2025": the month name comes before the year
        month = _ENGLISH_MONTHS.get((match["month"] or "").lower())
        if month and int(match["year"]) in YEARS and free(match.start("year")):
            opening = _MONTH_RANGE_OPENING.search(text, 0, match.start())
            if opening and opening.group(1).lower() in _ENGLISH_MONTHS:
                # "January–April 2025" is the period figures cover, reported after it: the year alone
                taken.append((opening.start(), match.end()))
                found.append((NamedDate(int(match["year"])), taken[-1]))
                continue
            taken.append((match.start(), match.end()))
            found.append((NamedDate(int(match["year"]), month), taken[-1]))
    for pattern, offset in ((_ROC_PREFIXED, ROC_OFFSET), (_ROC_BARE, ROC_OFFSET), (_GREGORIAN_YEAR, 0)):
        for match in pattern.finditer(text):
            number = int(match.group(1))
            if not free(match.start(1)) or (pattern is _ROC_BARE and number not in ROC_BARE_YEARS):
                continue
            year = number + offset
            if year in YEARS:
                month_match = _MONTH_AFTER_YEAR.match(text, match.end())
                month = _month_number(month_match.group(1)) if month_match else None
                day = _day_number(month_match.group(2)) if month and month_match and month_match.group(2) else None
                taken.append((match.start(), month_match.end() if month and month_match else match.end()))
                found.append((NamedDate(year, month, day if month else None), taken[-1]))
    if not found:
        for match in _MONTH_ALONE.finditer(text):
            month = _month_number(match.group(1))
            if month:
                found.append((NamedDate(None, month), match.span()))
    return found


_SURNAME_AND_OFFICE = re.compile(f"([{HAN_BASIC}])(副?总统)")


def named_speakers(simplified_query: str, speakers: frozenset[str]) -> tuple[str, ...]:
    """Speakers of the collection the query names: by full name, or by surname and office ("蔡總統",
    "蕭副總統") through the office-holder table ingest reads speakers with (qa.ingest.metadata)."""
    from qa.ingest.metadata import OFFICE_HOLDERS

    named = {name for name in speakers if len(name) >= 2 and to_simplified(name) in simplified_query}
    for match in _SURNAME_AND_OFFICE.finditer(simplified_query):
        office = to_traditional(match.group(2))
        named.update(name for _, _, name in OFFICE_HOLDERS.get(office, ())
                     if name in speakers and to_simplified(name)[0] == match.group(1))
    return tuple(sorted(named))


# Clause punctuation of both languages.
_CLAUSE_BREAK = re.compile(r"[，,；;？?。！!：:、]")


def clauses(text: str, rule: ClauseRule = DEFAULT_RANKING.clauses) -> tuple[str, ...]:
    """The query's clauses ("那位…的陸戰隊班長" / "出事當下喊著要大家先去救誰"), in order, or () when it has one;
    of more than `rule.most`, the longest, which say the most."""
    found = [piece.strip() for piece in _CLAUSE_BREAK.split(text) if len(piece.strip()) >= rule.min_chars]
    if len(found) > rule.most:
        kept = set(sorted(range(len(found)), key=lambda i: -len(found[i]))[: rule.most])
        found = [piece for i, piece in enumerate(found) if i in kept]
    return tuple(found) if len(found) > 1 else ()


def analyse(text: str, *, english: bool, speakers: frozenset[str] = frozenset(),
            clause_rule: ClauseRule = DEFAULT_RANKING.clauses, names: NameReader | None = None) -> QueryAnalysis:
    simplified = lexical_form(text)
    readings = tuple(names.read(text)[0]) if english and names is not None else ()
    return QueryAnalysis(text, simplified, english, named_dates(text), named_speakers(simplified, speakers),
                         clauses(text, clause_rule), readings)
