"""A query read once into a value: its script and language, the words BM25 looks for, and the dates,
people and names it names.

Everything later stages need from the raw query is derived here, so retrieval never re-reads it.
What the query names (a year, a month, a speaker) becomes a soft preference, shown to the user and
removable, never a silent filter; so does how an English question's names were read (Sandra Oudkirk
→ 孫曉雅, qa.search.name_reading).
"""

from __future__ import annotations

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
_MONTH_AFTER_YEAR = re.compile(r"\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*月")
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
_CN_MONTH = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10, "十一": 11, "十二": 12}


@dataclass(frozen=True)
class NamedDate:
    """A year, or a month of a year, that the query names; month without year when only a month is named."""

    year: int | None
    month: int | None = None

    def label(self) -> str:
        if self.year is None:
            return f"{self.month}月"
        return f"{self.year}-{self.month:02d}" if self.month else str(self.year)

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


def named_dates(text: str) -> tuple[NamedDate, ...]:
    """Years and months a query names: 2022年, 2025年11月, 民國113年 / 113年 (ROC), 115年3月份, 3月份, July 2025."""
    text = fold_width(text)
    found: list[NamedDate] = []

    def add(year: int | None, after: int) -> None:
        month_match = _MONTH_AFTER_YEAR.match(text, after)
        month = _month_number(month_match.group(1)) if month_match else None
        date = NamedDate(year, month)
        if date not in found:
            found.append(date)

    taken: list[tuple[int, int]] = []
    for match in _ENGLISH_DATE.finditer(text):  # "July 2025": the month name comes before the year
        month = _ENGLISH_MONTHS.get((match["month"] or "").lower())
        year = int(match["year"])
        if month and year in YEARS:
            taken.append((match.start("year"), match.end("year")))
            if NamedDate(year, month) not in found:
                found.append(NamedDate(year, month))
    for pattern, offset in ((_ROC_PREFIXED, ROC_OFFSET), (_ROC_BARE, ROC_OFFSET), (_GREGORIAN_YEAR, 0)):
        for match in pattern.finditer(text):
            if any(start <= match.start(1) < end for start, end in taken):
                continue
            number = int(match.group(1))
            if pattern is _ROC_BARE and number not in ROC_BARE_YEARS:
                continue
            year = number + offset
            if year in YEARS:
                taken.append((match.start(1), match.end()))
                add(year, match.end())
    if not found:
        for match in _MONTH_ALONE.finditer(text):
            month = _month_number(match.group(1))
            if month and NamedDate(None, month) not in found:
                found.append(NamedDate(None, month))
    return tuple(found)


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
