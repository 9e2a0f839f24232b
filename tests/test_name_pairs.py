"""qa/text/name_pairs.py: name pairs harvested from lines of the Taiwan Presidential Office releases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.text.name_pairs import NamePair, count_pairs, english_key, is_acronym, kept_pairs, pairs_in_text


@pytest.mark.parametrize(("line", "pairs"), [
    # A title before a person's name is left out, and so is the office before the title.
    ("蔡英文總統今（10）日上午接見「美國在台協會」（AIT）台北辦事處新任處長孫曉雅（Sandra Oudkirk），期盼臺美雙方",
     [("美國在台協會", "AIT"), ("孫曉雅", "Sandra Oudkirk")]),
    # "X在台協會" is one name: 在 starts no new phrase before 台.
    ("今天是7月4日美國國慶，美國在台協會（AIT）特別選定在臺南舉辦美國日的慶祝活動", [("美國在台協會", "AIT")]),
    # The phrase starts after the conjunction 及; the name after the title 大使.
    ("訪團一行由外交部長吳釗燮及尼加拉瓜駐臺大使達比亞(William Tapia）陪同", [("達比亞", "William Tapia")]),
    ("蔡英文總統今（27）日上午接見尼加拉瓜共和國外交部長孟卡達(Denis Moncada", []),  # no closing bracket
    ("日上午接見尼加拉瓜共和國外交部長孟卡達(Denis Moncada)", [("孟卡達", "Denis Moncada")]),
    # A title that jieba splits into two words (當選|人); a qualifier after a comma is dropped.
    ("與帛琉總統當選人惠恕仁（Surangel Whipps, Jr.）進行視訊談話", [("惠恕仁", "Surangel Whipps")]),
    # A country before a person's name, without a title between.
    ("大會主席游錫堃院長、帛琉共和國惠恕仁（Surangel S. Whipps, Jr.）總統", [("惠恕仁", "Surangel S. Whipps")]),
    # A verb starts the phrase; an acronym's Chinese name is the whole phrase after it.
    ("貴國在2002年及2003年遭受嚴重急性呼吸道症候群（SARS）疫情嚴重衝擊", [("嚴重急性呼吸道症候群", "SARS")]),
    # Quotes bound a name exactly.
    ("蔡英文總統今（3）日上午接見「對華政策跨國議會聯盟」（IPAC）訪團", [("對華政策跨國議會聯盟", "IPAC")]),
    # A full English name and its acronym after a comma are two names of one thing.
    ("接見「美台商業協會（U.S.-Taiwan Business Council, USTBC）訪問團」",
     [("美台商業協會", "U.S.-Taiwan Business Council"), ("美台商業協會", "USTBC")]),
    # A family name and a given name after a comma are one name.
    ("訪賓一行尚包括參議員山谷惠理子（YAMATANI, ERIKO）及北村經夫（KITAMURA, TSUNEO）",
     [("山谷惠理子", "YAMATANI ERIKO"), ("北村經夫", "KITAMURA TSUNEO")]),
    # English（中文）: the Chinese name is the bracket, the English the Latin words before it.
    ("臺灣申請加入CPTPP（跨太平洋夥伴全面進步協定），以及臺灣解除對日本食品的進口管制", [("跨太平洋夥伴全面進步協定", "CPTPP")]),
    # Not names: lower-case glosses, web addresses, pinyin-free Chinese brackets.
    ("建立家庭（make families）和創造價值(make values)", []),
    ("詳細資訊請上總統府官網（https://www.president.gov.tw/Page/124）", []),
    ("蔡英文總統今（10）日上午", []),
])
def test_pairs_are_read_from_real_lines(line: str, pairs: list[tuple[str, str]]):
    assert pairs_in_text(line) == [NamePair(chinese, english) for chinese, english in pairs]


def test_a_name_joined_by_a_middle_dot_is_kept_whole():
    line = "阿富汗人權律師胡梅菈．拉蘇麗（Humaira Rasuli）對促進該國"
    assert pairs_in_text(line) == [NamePair("胡梅菈．拉蘇麗", "Humaira Rasuli")]


def test_english_is_matched_by_its_words_and_acronyms_only_in_capitals():
    assert english_key("Čmilytė-Nielsen, Viktorija") == ("cmilyte", "nielsen", "viktorija")
    assert english_key("U.S.-Taiwan Business Council") == ("u", "s", "taiwan", "business", "council")
    assert [is_acronym(word) for word in ("AIT", "SDGs", "G7", "5G", "AoD", "Sandra Oudkirk", "Gogoro")] == [
        True, True, True, True, True, False, False]


def test_a_pair_is_kept_when_it_recurs_or_its_english_has_no_other_chinese_name():
    counts = {
        NamePair("孫曉雅", "Sandra Oudkirk"): 13,
        NamePair("處長孫曉雅", "Sandra Oudkirk"): 1,  # supports 孫曉雅, which it ends in, and is not kept itself
        NamePair("美國在台協會", "AIT"): 16,
        NamePair("美國在臺協會", "AIT"): 1,  # the same name in Simplified script
        NamePair("柯佳洛", "Jaroslav Kubera"): 1,  # stated once, with no rival: kept
        NamePair("拉布", "Dominic Raab"): 1,  # two rival names stated once each: neither kept
        NamePair("拉柏", "Dominic RAAB"): 1,
        NamePair("馬克宏", "Emmanuel Macron"): 1,  # a longer name ending in it supports it, so it recurs
        NamePair("法國馬克宏", "Emmanuel Macron"): 1,
    }
    assert kept_pairs(counts) == sorted([NamePair("孫曉雅", "Sandra Oudkirk"), NamePair("美國在台協會", "AIT"),
                                         NamePair("美國在臺協會", "AIT"), NamePair("柯佳洛", "Jaroslav Kubera"),
                                         NamePair("馬克宏", "Emmanuel Macron")])


def test_pairs_are_counted_over_texts():
    texts = ["美國在台協會（AIT）特別選定", "感謝美國在台協會（AIT）與", "no pairs here"]
    assert count_pairs(texts) == {NamePair("美國在台協會", "AIT"): 2}


# --- the hand check: 100 kept pairs drawn at random (docs/name_pairs_check.md) ------------------------
CHECKED = [json.loads(line) for line in (Path(__file__).parent / "data" / "name_pairs_check.jsonl").open(encoding="utf-8")]


@pytest.mark.parametrize("record", CHECKED, ids=[str(record["n"]) for record in CHECKED])
def test_each_checked_pair_is_still_harvested_from_its_line(record: dict):
    assert NamePair(record["chinese"], record["english"]) in pairs_in_text(record["line"])


def test_the_checked_pairs_are_precise():
    assert len(CHECKED) == 100 and {record["verdict"] for record in CHECKED} <= {"correct", "wrong"}
    assert sum(record["verdict"] == "correct" for record in CHECKED) / len(CHECKED) >= 0.95
