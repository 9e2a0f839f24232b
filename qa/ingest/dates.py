"""Dates as speech texts and record fields write them, read into ISO ``yyyy-mm-dd``."""

from __future__ import annotations

import datetime as dt
import re

from qa.text.normalize import fold_width

_CN_DIGITS = {ch: i for i, ch in enumerate("〇一二三四五六七八九")} | {"○": 0, "零": 0, "O": 0, "Ｏ": 0}
_NUMBER = r"(?:\d{1,4}|[〇○零OＯ一二三四五六七八九十]{1,4})"
_FIELD_DATE = re.compile(
    r"(?P<y>\d{4})\s*(?:[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?|(?P<m2>\d{2})(?P<d2>\d{2}))(?!\d)"
)
# A date written out in Chinese ("2023年5月11日", "二〇二三年五月十一日"), with groups y, m and d.
TEXT_DATE = f"(?P<y>{_NUMBER})\\s*年\\s*(?P<m>{_NUMBER})\\s*月\\s*(?P<d>{_NUMBER})\\s*[日号號]"


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


def iso_date(year: str, month: str, day: str) -> str | None:
    """The ISO date of a year, month and day written in digits or Chinese numerals; None when it is not one."""
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
        return iso_date(match["y"], match["m"] or match["m2"], match["d"] or match["d2"])
    match = re.match(TEXT_DATE, value)
    return iso_date(match["y"], match["m"], match["d"]) if match else None
