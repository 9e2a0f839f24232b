"""qa/ingest/dates.py: dates as record fields and speech texts write them."""

from __future__ import annotations

import pytest

from qa.ingest.dates import iso_date, normalize_date


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2022-09-18 09:36:00", "2022-09-18"),
        ("2022/9/18", "2022-09-18"),
        ("2022.9.18", "2022-09-18"),
        ("20220918", "2022-09-18"),
        ("2022年9月18日", "2022-09-18"),
        ("２０２２年９月１８日", "2022-09-18"),
        ("二〇二三年五月十一日", "2023-05-11"),
        ("2016-05-20T10:00:00+08:00", "2016-05-20"),
        ("2022-02-30", None),
        ("20221399", None),
        ("0000-01-01", None),
        ("8月14日", None),
        ("", None),
    ],
)
def test_normalize_date(value: str, iso: str | None) -> None:
    assert normalize_date(value) == iso


def test_iso_date_reads_chinese_numerals_and_refuses_impossible_dates() -> None:
    # "二〇二二年九月十八日" and "十一月" as speech bylines write them.
    assert iso_date("二〇二二", "九", "十八") == "2022-09-18"
    assert iso_date("2023", "十一", "二十") == "2023-11-20"
    assert iso_date("2023", "2", "30") is None
    assert iso_date("1899", "1", "1") is None
