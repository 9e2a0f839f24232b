"""Who held an office on a date: a fact about the office, keyed on the document's date, never used
without the text. It tells "賴清德副總統今…" (the holder that day) from "韓國總統尹錫悅…", and which
holder a heading "總統出席…" means when the release names them or their surname ("陳副總統：")."""

from __future__ import annotations

# The offices the table knows, in either script, as a regular expression group.
OFFICE = r"(?P<office>副總統|總統|副总统|总统)"

# Each office (in traditional script) to its terms: (first day, last day, holder), ISO dates.
OFFICE_HOLDERS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "總統": (("2016-05-20", "2024-05-19", "蔡英文"), ("2024-05-20", "2028-05-19", "賴清德")),
    "副總統": (
        ("2016-05-20", "2020-05-19", "陳建仁"),
        ("2020-05-20", "2024-05-19", "賴清德"),
        ("2024-05-20", "2028-05-19", "蕭美琴"),
    ),
}
_OFFICE_TRADITIONAL = {"副总统": "副總統", "总统": "總統"}


def office_holder(office: str, date: str | None) -> str | None:
    """Who held ``office`` (總統 or 副總統, either script) on ISO ``date``; None outside the listed terms."""
    office = _OFFICE_TRADITIONAL.get(office, office)
    if not date:
        return None
    for start, end, name in OFFICE_HOLDERS.get(office, ()):
        if start <= date <= end:
            return name
    return None
