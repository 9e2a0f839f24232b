"""Shared wording between two passages, on sentences from the sample speeches."""

from __future__ import annotations

import time

from qa.text.alignment import fold_chars, shared_spans
from qa.text.normalize import to_simplified

# 004, Traditional script.
MOBILISE = "要凝聚強大合力抓工業。各級干部要說了就辦、定了就干。"
TALENT = "要選用精兵強將抓工業。堅持以發展論英雄、以實績論英雄。"
PRIORITY = "要堅持產業為王,工業是“王中之王”。"


def _texts(text: str, spans: list[tuple[int, int]]) -> list[str]:
    return [text[start:end] for start, end in spans]


def test_fold_chars_keeps_length_and_folds_script_width_case_and_spaces() -> None:
    text = "縣委ＡＢｃ，“王中之王”\u3000Ｘ\n"
    assert fold_chars(text) == '县委abc,"王中之王" x '
    assert len(fold_chars(text)) == len(text)


def test_fold_chars_is_per_character() -> None:
    # Phrase conversion would treat 乾 in 乾隆 differently; a per-character fold is the same everywhere.
    assert fold_chars("乾隆") == fold_chars("乾")[0] + fold_chars("隆")


def test_same_text_in_two_scripts_is_shared_throughout() -> None:
    simplified = to_simplified(MOBILISE)
    assert simplified != MOBILISE
    assert shared_spans(MOBILISE, simplified) == ([(0, len(MOBILISE))], [(0, len(simplified))])


def test_changed_wording_is_left_out_of_the_shared_spans() -> None:
    edited = "要凝聚强大合力抓工业。各级领导要说了就办、定了就干。"  # 干部 became 领导
    spans_a, spans_b = shared_spans(MOBILISE, edited)
    assert _texts(MOBILISE, spans_a) == ["要凝聚強大合力抓工業。各級", "要說了就辦、定了就干。"]
    assert _texts(edited, spans_b) == ["要凝聚强大合力抓工业。各级", "要说了就办、定了就干。"]


def test_inserted_sentence_is_not_shared() -> None:
    a = MOBILISE + TALENT
    b = MOBILISE + PRIORITY + TALENT
    spans_a, spans_b = shared_spans(a, b)
    assert spans_a == [(0, len(a))]
    # Both sentences around the insertion end in "。", so the unshared stretch is the inserted
    # sentence shifted by one: the longest tile ("。" + TALENT) is taken first.
    end_of_first = len(MOBILISE) - 1
    assert spans_b == [(0, end_of_first), (end_of_first + len(PRIORITY), len(b))]
    assert b[end_of_first : end_of_first + len(PRIORITY)] == "。" + PRIORITY[:-1]


def test_moved_sentences_are_found_in_both_places() -> None:
    a = MOBILISE + TALENT
    b = TALENT + MOBILISE
    spans_a, spans_b = shared_spans(a, b)
    assert spans_a == [(0, len(a))]
    assert spans_b == [(0, len(b))]


def test_matches_shorter_than_min_len_are_ignored() -> None:
    # Both mention 抓工業 (3 characters) and nothing longer.
    assert shared_spans(MOBILISE, "企業要抓工業") == ([], [])
    assert _texts(MOBILISE, shared_spans(MOBILISE, "企業要抓工業", min_len=3)[0]) == ["抓工業"]


def test_shared_punctuation_alone_is_ignored() -> None:
    assert shared_spans("王中之王”。“。", "一二三四”。“。") == ([], [])


def test_offsets_are_into_the_original_strings() -> None:
    a = "　" + PRIORITY  # an ideographic space before the sentence
    b = "前言。" + to_simplified(PRIORITY)
    spans_a, spans_b = shared_spans(a, b)
    assert _texts(a, spans_a) == [PRIORITY]
    assert _texts(b, spans_b) == [to_simplified(PRIORITY)]


def test_empty_texts_share_nothing() -> None:
    assert shared_spans("", MOBILISE) == ([], [])
    assert shared_spans(MOBILISE, "") == ([], [])


def test_ten_passage_pairs_align_quickly() -> None:
    passage = (MOBILISE + TALENT + PRIORITY) * 6  # about 600 characters, much of it repeated
    other = to_simplified(TALENT + MOBILISE + PRIORITY) * 6
    shared_spans(passage, other)  # fill the fold table
    began = time.perf_counter()
    for _ in range(10):
        shared_spans(passage, other)
    # Around 10 ms here; the bound only catches an accidental blow-up.
    assert time.perf_counter() - began < 0.5


def test_fold_chars_passes_lone_surrogates_through() -> None:
    # Text decoded with errors="surrogateescape" can carry these; OpenCC cannot encode them.
    assert fold_chars("縣\udce5Ａ") == "县\udce5a"
