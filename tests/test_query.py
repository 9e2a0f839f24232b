import pytest

from qa.errors import BadInputError
from qa.search.query import NamedDate, analyse, clauses, named_dates, named_speakers, parse_switched_off, without_dates
from qa.search.ranking import DEFAULT_RANKING, ClauseRule


def labels(text: str) -> list[str]:
    return [date.label() for date in named_dates(text)]


def test_years_and_months_in_every_form_a_question_uses():
    assert labels("2022年軍人節表揚大會上，總統提到哪一個陸軍旅") == ["2022"]
    assert labels("丁薛祥2025年11月访问乌拉圭时") == ["2025-11"]
    assert labels("蔡總統在2023法律扶助國際論壇上說") == ["2023"]
    assert labels("How did Russian officials rank the July 2025 earthquake") == ["2025-07"]
    assert labels("In 2024 the budget") == ["2024"]


def test_a_named_day_in_every_form_a_question_uses():
    assert labels("At the meeting Li Qiang chaired on 15 May 2026, what") == ["2026-05-15"]
    assert labels("the January 21, 2025 symposium") == ["2025-01-21"]
    assert labels("as reported on 14 March 2025?") == ["2025-03-14"]
    assert labels("June 24th, 2025") == ["2025-06-24"]
    assert labels("at its February 8 open house") == ["2月8日"]  # a month and day without a year
    assert labels("2022年9月18日蔡總統視察") == ["2022-09-18"]
    assert labels("民國113年4月3日早上強震後") == ["2024-04-03"]
    assert labels("2025年11月5号") == ["2025-11-05"]
    # A day only beside a month's name: neither a modal "may" nor an ordinal before another word.
    assert labels("they may 15 of them in 2024") == ["2024"]
    assert labels("the 14th CPPCC") == []
    # A range of months is the period figures cover, reported after it: the year alone.
    assert labels("social logistics in January–April 2025") == labels("from March to May 2025") == ["2025"]


def test_a_named_day_fits_the_documents_of_that_day_and_the_next():
    named = NamedDate(2026, 5, 20)
    assert named.fits_day("2026-05-20") and named.fits_day("2026-05-21")  # news of a day is often dated the next
    assert not named.fits_day("2026-05-19") and not named.fits_day("2026-05-22") and not named.fits_day("2026-05")
    assert named.matches("2026-05-03") and not NamedDate(2026, 5).fits_day("2026-05-20")
    assert NamedDate(None, 2, 8).fits_day("2024-02-08") and not NamedDate(None, 2, 31).fits_day("2024-02-29")
    assert NamedDate(2025, 12, 31).fits_day("2026-01-01")
    assert [d.in_chinese() for d in named_dates("15 May 2026, April 2026, February 8 and 2020")] == [
        "2026年5月15日", "2月8日", "2026年4月", "2020年"]


def test_months_and_days_are_blanked_for_translation_and_years_kept():
    assert without_dates("met on 15 May 2026 in Beijing") == "met on   in Beijing"
    assert without_dates("in April 2026 and in 2020") == "in   and in 2020"


def test_roc_years_are_read_as_gregorian():
    assert labels("115年3月份的將官晉任授階典禮上") == ["2026-03"]
    assert labels("民國113年的國慶") == ["2024"]
    assert labels("民國99年") == ["2010"]


def test_numbers_that_are_not_years_are_left_alone():
    assert labels("藥師公會全聯會40週年會慶") == []
    assert labels("建党100年") == []  # a bare 100年 is a span of years, not ROC 100
    assert labels("185组时速350公里的复兴号") == []
    assert labels("2025组列车") == []
    assert labels("第二十二届深圳文博会") == []


def test_a_month_without_a_year():
    assert labels("3月份的国务院常务会议") == ["3月"]
    assert NamedDate(None, 3).matches("2025-03-14") and not NamedDate(None, 3).matches("2025-04-14")


def test_a_named_date_matches_documents_of_that_period():
    assert NamedDate(2025, 11).matches("2025-11-05")
    assert not NamedDate(2025, 11).matches("2025-12-05")
    assert NamedDate(2022).matches("2022-09-01") and not NamedDate(2022).matches("2023-01-01")
    assert not NamedDate(2022).matches(None)


def test_a_text_states_a_named_month_or_day_in_either_calendar():
    march = NamedDate(2026, 3)
    assert march.stated_in("中华民国115年3月份将官晋任授阶典礼") and march.stated_in("2026年3月15日")
    assert not march.stated_in("115年4月份") and not NamedDate(2026, 1).stated_in("2026年11月")
    assert NamedDate(2026, 5, 15).stated_in("2026年5月15日召开") and not NamedDate(2026, 5, 1).stated_in("2026年5月15日")
    assert not NamedDate(2026).stated_in("2026年") and not NamedDate(None, 3).stated_in("3月")  # too common to tell


def test_speakers_are_matched_across_scripts():
    speakers = frozenset({"賴清德", "习近平", "蕭美琴"})
    assert named_speakers("赖清德在总统府员工家庭日上说", speakers) == ("賴清德",)
    assert analyse("習近平參訪朝鮮", english=False, speakers=speakers).speakers == ("习近平",)
    assert analyse("總統說了什麼", english=False, speakers=speakers).speakers == ()


def test_preferences_say_what_the_query_names():
    analysis = analyse("2025年11月賴清德說", english=False, speakers=frozenset({"賴清德"}))
    assert analysis.preferences == {"dates": ["2025-11"], "speakers": ["賴清德"]}
    assert analyse("工业强县", english=False).preferences == {}


def test_what_the_query_names_can_be_switched_off_one_by_one():
    analysis = analyse("2025年11月賴清德說", english=False, speakers=frozenset({"賴清德"}))
    assert analysis.filters() == [("date", "2025-11"), ("speaker", "賴清德")]
    without_date = analysis.without(parse_switched_off(["date:2025-11"]))
    assert without_date.filters() == [("speaker", "賴清德")] and without_date.text == analysis.text
    assert analysis.without(parse_switched_off(["speaker: 賴清德", "date:2024"])).filters() == [("date", "2025-11")]
    assert analysis.without(()) is analysis


@pytest.mark.parametrize("value", ["2024", "year:2024", "date:", ":賴清德"])
def test_a_switched_off_filter_must_say_its_kind_and_value(value):
    with pytest.raises(BadInputError, match="kind:value"):
        parse_switched_off([value])


def test_a_speaker_named_by_surname_and_office():
    speakers = frozenset({"蔡英文", "賴清德", "蕭美琴", "蔡奇"})
    def named(query: str, known: frozenset[str] = speakers) -> tuple[str, ...]:
        return analyse(query, english=False, speakers=known).speakers

    assert named("蔡總統在2023法律扶助國際論壇上說") == ("蔡英文",)
    assert named("萧副总统出席") == ("蕭美琴",)
    assert named("總統說了什麼") == ()
    assert named("蔡總統", frozenset({"蔡奇"})) == ()  # only office holders the collection knows


def test_a_question_is_cut_into_its_clauses_when_it_has_several():
    question = "那位在漢光演習掉進海裡走掉的陸戰隊班長，出事當下喊著要大家先去救誰？"
    assert clauses(question) == ("那位在漢光演習掉進海裡走掉的陸戰隊班長", "出事當下喊著要大家先去救誰")
    assert analyse(question, english=False).clauses == clauses(question)
    assert clauses("招商引资进度为什么落后？") == ()  # one clause: the whole query says it
    assert clauses("是吗，招商引资进度为什么落后") == ()  # a two-character aside is no clause
    english = "In her video address to the Hudson Institute, how much did Tsai say defense spending would reach?"
    assert clauses(english) == ("In her video address to the Hudson Institute",
                                "how much did Tsai say defense spending would reach")

    pasted = "，".join(f"第{i}段" + "很" * i for i in range(1, 21))  # twenty clauses, each longer than the last
    assert clauses(pasted) == tuple(f"第{i}段" + "很" * i for i in range(21 - DEFAULT_RANKING.clauses.most, 21))  # the longest, in order
    assert clauses(pasted, ClauseRule(min_chars=4, most=2)) == ("第19段" + "很" * 19, "第20段" + "很" * 20)
    assert clauses("是吗，招商引资进度为什么落后", ClauseRule(min_chars=2, most=8)) == ("是吗", "招商引资进度为什么落后")
    assert analyse(pasted, english=False, clause_rule=ClauseRule(min_chars=4, most=3)).clauses == clauses(
        pasted, ClauseRule(min_chars=4, most=3))
