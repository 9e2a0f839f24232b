"""The second stage as pure logic: fake passages and documents, no model."""

import numpy as np

from qa.search.query import analyse
from qa.search.rerank import DATE_WEIGHT, RERANK_DEPTH, SPEAKER_WEIGHT, Candidate, best_sentence_coverage, rerank
from qa.types import Document, Metadata, Passage


def candidate(pid: int, text: str, score: float, date: str | None = None, speaker: str | None = None) -> Candidate:
    passage = Passage(f"c-{pid}", f"d-{pid}", 0, text, 0, len(text))
    document = Document(f"d-{pid}", text, "hash", Metadata(title="t", date=date, speaker=speaker), "zh-Hans")
    return Candidate(pid, score, passage, document)


def test_coverage_counts_the_best_single_sentence():
    words = ["招商", "引资", "落后"]
    assert best_sentence_coverage(words, "招商引資進度落后。其他內容。") == 1.0  # Traditional passage, Simplified words
    assert best_sentence_coverage(words, "招商很重要。引资也重要。进度落后。") == 1 / 3
    assert best_sentence_coverage([], "任何文字") == 0.0


def test_a_passage_that_answers_in_one_sentence_moves_up():
    analysis = analyse("招商引资为什么落后", english=False)
    spread = candidate(1, "招商很重要。引资也重要。进度落后。", 0.50)
    focused = candidate(2, "今年招商引资进度落后于全市。", 0.48)
    assert [pid for pid, _ in rerank(analysis, ["招商", "引资", "落后"], [spread, focused])] == [2, 1]


def test_named_dates_and_speakers_are_a_soft_bonus_that_can_be_turned_off():
    analysis = analyse("2022年賴清德說了什麼", english=False, speakers=frozenset({"賴清德"}))
    other_year = candidate(1, "内容", 0.60, date="2023-05-01", speaker="賴清德")
    right_year = candidate(2, "内容", 0.55, date="2022-09-01")
    ranked = rerank(analysis, [], [other_year, right_year])
    assert [pid for pid, _ in ranked] == [1, 2]  # both earn a bonus: one for the speaker, one for the year
    np.testing.assert_allclose([score for _, score in ranked], [0.60 + SPEAKER_WEIGHT, 0.55 + DATE_WEIGHT], rtol=1e-6)
    far_ahead = candidate(3, "内容", 0.90, date="2019-01-01")
    assert [pid for pid, _ in rerank(analysis, [], [far_ahead, right_year])] == [3, 2]  # never a filter
    plain = rerank(analysis, [], [other_year, right_year], use_preferences=False)
    np.testing.assert_allclose([score for _, score in plain], [0.60, 0.55], rtol=1e-6)


def test_a_cross_encoder_reorders_the_head_and_the_tail_stays_below():
    analysis = analyse("问题", english=False)
    head = [candidate(i, f"段落{i}", 1.0 - i / 1000) for i in range(RERANK_DEPTH)]
    tail = [candidate(RERANK_DEPTH + 1, "尾部", 0.01)]
    seen: list[tuple[str, int]] = []

    def scorer(query, texts):
        seen.append((query, len(texts)))
        return np.array([1.0 if text == "段落7" else 0.0 for text in texts])

    ranked = rerank(analysis, [], head + tail, cross_encoder=scorer)
    assert seen == [("问题", RERANK_DEPTH)]
    assert ranked[0][0] == 7 and ranked[-1][0] == RERANK_DEPTH + 1
    assert ranked[-1][1] <= min(score for _, score in ranked[:-1])
