"""qa/search/name_reading.py: English questions read by the name pairs a collection states."""

from __future__ import annotations

from qa.search.name_reading import NameReader, Reading, collection_words
from qa.text.name_pairs import NamePair

PAIRS = [
    NamePair("孫曉雅", "Sandra Oudkirk"),
    NamePair("美國在台協會", "AIT"),
    NamePair("美國在臺協會", "AIT"),  # the same name in the other script: one reading
    NamePair("美國在台協會台北辦事處", "AIT"),
    NamePair("世界衛生組織", "WHO"),
    NamePair("柏安卓", "Andrea Clare Bowman"),
    NamePair("哈德遜研究所", "Hudson Institute"),
    NamePair("戴維斯", "Davies of Gower"),
    NamePair("正直", "Integrity"),
    NamePair("貝尼亞", "Santiago Peña Palacios"),
    NamePair("巴迪亞", "Oscar Adolfo Padilla Lam"),
    NamePair("帕迪亞", "Oscar Padilla Ruiz"),  # so "Oscar Padilla" names two people and reads as neither
]
STATED = {NamePair("美國在台協會", "AIT"): 16, NamePair("美國在臺協會", "AIT"): 3, NamePair("美國在台協會台北辦事處", "AIT"): 2}


def reader() -> NameReader:
    return NameReader(PAIRS, lambda pair: STATED.get(pair, 1))


def test_names_are_read_left_to_right_and_taken_out_of_the_text():
    readings, rest = reader().read("What did Sandra Oudkirk tell the AIT's staff at the Hudson Institute?")
    assert readings == [Reading("Sandra Oudkirk", ("孫曉雅",)), Reading("AIT", ("美國在台協會", "美國在台協會台北辦事處")),
                        Reading("Hudson Institute", ("哈德遜研究所",))]
    assert rest == "What did tell the 's staff at the ?"
    assert readings[1].label() == "AIT → 美國在台協會 / 美國在台協會台北辦事處"


def test_acronyms_only_in_capitals_and_names_only_capitalised():
    assert reader().read("who said what to the hudson institute about sandra oudkirk?")[0] == []
    assert reader().read("Who met WHO officials?")[0] == [Reading("WHO", ("世界衛生組織",))]
    # One capitalised word that opens the question may be an ordinary word.
    assert reader().read("Integrity matters, said the President")[0] == []
    assert reader().read("Why did the President speak of Integrity?")[0] == [Reading("Integrity", ("正直",))]


def test_a_long_name_is_also_found_by_its_first_and_one_later_word():
    assert reader().read("When did Andrea Bowman arrive?")[0] == [Reading("Andrea Bowman", ("柏安卓",))]
    assert reader().read("How long had Santiago Peña been away?")[0] == [Reading("Santiago Peña", ("貝尼亞",))]
    assert reader().read("Santiago Pena Palacios spoke")[0] == [Reading("Santiago Pena Palacios", ("貝尼亞",))]
    assert reader().read("What did Oscar Padilla say?")[0] == []  # two people are so shortened
    assert reader().read("Lord Davies of Gower spoke")[0] == [Reading("Davies of Gower", ("戴維斯",))]


def test_the_collection_s_latin_words_are_kept_as_bm25_words():
    held = {"ait", "cptpp", "5g", "redteamalpha0001", "the"}
    assert collection_words("Did the AIT discuss CPTPP, 5G and redteamalpha0001 or MQ-9B?", held.__contains__) == [
        "ait", "cptpp", "5g", "redteamalpha0001"]  # function words never, however common in English passages
