"""Choosing the sentences to highlight, on passages from the sample speeches."""

from __future__ import annotations

from qa.search.highlight import highlight_sentences
from qa.text.normalize import to_simplified

# 000, Traditional script: the opening of point 3 under section 一.
PASSAGE = (
    "3、堅定發展的信心和決心。工業是我縣縣域經濟發展的突破口,是工業持續增長的主要動力和希望所在。"
    "縣委、縣政府審時度勢,制定了實施工業強縣的戰略。全縣上下必須高度統一思想認識,堅定發展工業的信心和決心。"
)
HEADING = "3、堅定發展的信心和決心。"
STRATEGY = "縣委、縣政府審時度勢,制定了實施工業強縣的戰略。"
RESOLVE = "全縣上下必須高度統一思想認識,堅定發展工業的信心和決心。"

# 000, point 1: a longer passage with a date and a meeting.
MEETING_PASSAGE = (
    "1、深刻領會精神。三月下旬,省委、省政府在經過認真、周密的籌備后,召開了全省工業強省工作會議。"
    "會后,瀘州市委、市政府領導在帶頭深入重點企業進行調研的基礎上,于4月13日召開了全市工業領導組擴大會議。"
)
PROVINCE_MEETING = "三月下旬,省委、省政府在經過認真、周密的籌備后,召開了全省工業強省工作會議。"
CITY_MEETING = "會后,瀘州市委、市政府領導在帶頭深入重點企業進行調研的基礎上,于4月13日召開了全市工業領導組擴大會議。"


def _span(passage: str, sentence: str) -> tuple[int, int]:
    start = passage.index(sentence)
    return start, start + len(sentence)


def test_simplified_query_finds_the_sentence_in_a_traditional_passage() -> None:
    assert highlight_sentences(PASSAGE, "县委县政府制定了什么战略") == [_span(PASSAGE, STRATEGY)]


def test_offsets_index_the_original_passage() -> None:
    [(start, end)] = highlight_sentences(PASSAGE, "实施工业强县战略")
    assert PASSAGE[start:end] == STRATEGY


def test_a_close_second_sentence_is_included_in_text_order() -> None:
    assert highlight_sentences(PASSAGE, "工业发展的信心和决心") == [_span(PASSAGE, HEADING), _span(PASSAGE, RESOLVE)]


def test_max_spans_limits_the_result_to_the_best_sentence() -> None:
    assert highlight_sentences(PASSAGE, "工业发展的信心和决心", max_spans=1) == [_span(PASSAGE, HEADING)]


def test_a_distant_second_sentence_is_left_out() -> None:
    assert highlight_sentences(MEETING_PASSAGE, "省委省政府召开了什么会议") == [
        _span(MEETING_PASSAGE, PROVINCE_MEETING)
    ]


def test_digits_and_place_names_match() -> None:
    assert highlight_sentences(MEETING_PASSAGE, "泸州4月13日开了什么会") == [_span(MEETING_PASSAGE, CITY_MEETING)]


def test_traditional_query_matches_a_simplified_passage() -> None:
    simplified = to_simplified(PASSAGE)
    assert highlight_sentences(simplified, "縣委縣政府制定了什麼戰略") == [_span(PASSAGE, STRATEGY)]


def test_english_query_highlights_nothing() -> None:
    assert highlight_sentences(PASSAGE, "What strategy did the county adopt?") == []


def test_only_function_characters_in_common_highlights_nothing() -> None:
    assert highlight_sentences(PASSAGE, "的了是") == []


def test_empty_query_or_passage_highlights_nothing() -> None:
    assert highlight_sentences(PASSAGE, "  ") == []
    assert highlight_sentences("", "工业") == []
    assert highlight_sentences(PASSAGE, "工业", max_spans=0) == []


def test_best_scoring_sentence_marks_the_one_span_that_scores_best():
    from qa.search.highlight import best_scoring_sentence

    text = "第一句話。第二句話。第三句話。"
    spans = [(0, 5), (5, 10), (10, 15)]
    assert best_scoring_sentence(text, spans, [0.71, 0.83, 0.79]) == [(5, 10)]
    assert best_scoring_sentence(text, spans, [0.8, 0.8, 0.1]) == [(0, 5)]  # a tie: the first
    assert best_scoring_sentence(text, spans, [0.5, 0.6]) == []  # scores for other sentences


def test_a_phrase_is_offered_a_timeline_and_a_question_is_not():
    from web.render import is_phrase

    assert is_phrase("工业强县") and is_phrase("領導包項")
    assert not is_phrase("How does the county attract investment?")
    assert not is_phrase("招商引资进度为什么落后") and not is_phrase("坚持工业立县、工业兴县、工业强县战略，推动高质量发展")
