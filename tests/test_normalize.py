"""qa/text/normalize.py: detect_script on real lines of the sample speeches."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.text.normalize import count_common_han, count_han, detect_script

SAMPLES = Path(__file__).parents[1] / "qa" / "sample_speeches"


def sample_text(prefix: str) -> str:
    return next(SAMPLES.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")


def sample_line(prefix: str, start: str) -> str:
    """The whole line of that sample speech that begins with `start`."""
    return next(line for line in sample_text(prefix).split("\n") if line.startswith(start))


TRADITIONAL = sample_line("000", "縣工業領導組")
SIMPLIFIED = sample_line("001", "2. 本文档由用户上传")


@pytest.mark.parametrize(("prefix", "script"), [("000", "zh-Hant"), ("001", "zh-Hans"), ("002", "zh-Hant"),
                                                ("003", "zh-Hant"), ("004", "zh-Hant")])
def test_each_sample_speech(prefix: str, script: str):
    assert detect_script(sample_text(prefix)) == script


def test_a_traditional_line_and_a_simplified_line():
    assert TRADITIONAL == "縣工業領導組擴大會上的講話"
    assert detect_script(TRADITIONAL) == "zh-Hant"
    assert SIMPLIFIED == "2. 本文档由用户上传,版权归属用户,汇文网负责整理代发布。如果您对本文档版权有争议请及时联系客服。"
    assert detect_script(SIMPLIFIED) == "zh-Hans"


def test_pinyin_annotations_do_not_hide_the_script():
    line = sample_line("002", "在縣委工作會")
    assert line == "在縣委工作會(huì)上的發(fā)言稿"
    assert detect_script(line) == "zh-Hant"


def test_the_same_sentence_in_each_script():
    # From 000's second point, and the same words in Simplified.
    traditional = "我們與周邊縣區尤其是發達地區相比還存在巨大差距"
    assert traditional in sample_text("000")
    assert detect_script(traditional) == "zh-Hant"
    assert detect_script("我们与周边县区尤其是发达地区相比还存在巨大差距") == "zh-Hans"


def test_han_common_to_both_scripts_reads_as_simplified():
    assert detect_script("工业工业工业工业工业") == "zh-Hans"


def test_both_scripts_in_like_measure_are_mixed():
    traditional = sample_line("000", "一、認清形勢")
    assert traditional == "一、認清形勢,找準差距,堅定不移地發展工業經濟"
    assert detect_script(traditional + SIMPLIFIED) == "mixed"
    # Four times as many characters of one script outweigh the other.
    assert detect_script(sample_line("000", "2、找準發展差距") + SIMPLIFIED) == "zh-Hant"


def test_fewer_than_ten_han_characters_are_other():
    assert detect_script(sample_line("000", "時間:")) == "other"  # 時間:2022-09-18 09:36:00
    assert detect_script("How much protein should an adult eat per day?") == "other"
    assert detect_script("縣工業領導組擴大會") == "other"  # nine


def test_only_the_first_sample_characters_are_read():
    assert detect_script("x" * 3990 + TRADITIONAL) == "zh-Hant"
    assert detect_script("x" * 3995 + TRADITIONAL) == "other"
    assert detect_script("x" * 3995 + TRADITIONAL, sample=5000) == "zh-Hant"
    assert detect_script(sample_text("001") + sample_text("000")) == "zh-Hans"  # 001 fills the sample


def test_counting_ideographs() -> None:
    # A compatibility ideograph (年 U+F98E, as Taiwan releases write it) and an extension A one (㵢)
    # are ideographs, but not everyday characters; punctuation and letters are neither.
    text = "縣工業領導組，2022\uf98e㵢 abc"
    assert count_han(text) == 8
    assert count_common_han(text) == 6
