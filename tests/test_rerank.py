"""The second stage as pure logic: fake passages and documents, no model."""

import numpy as np
import pytest

from qa.search.query import analyse
from qa.search.ranking import DEFAULT_RANKING
from qa.search.rerank import Candidate, best_sentence_coverage, rerank, title_standing, word_rarity
from qa.types import Document, Metadata, Passage

WEIGHTS = DEFAULT_RANKING.second_stage


def candidate(pid: int, text: str, score: float, date: str | None = None, speaker: str | None = None,
              title: str = "t") -> Candidate:
    passage = Passage(f"c-{pid}", f"d-{pid}", 0, text, 0, len(text))
    document = Document(f"d-{pid}", text, "hash", Metadata(title=title, date=date, speaker=speaker), "zh-Hans")
    return Candidate(pid, score, passage, document)


def test_coverage_counts_the_best_single_sentence():
    words = ["招商", "引资", "落后"]
    assert best_sentence_coverage(words, "招商引資進度落后。其他內容。") == 1.0  # Traditional passage, Simplified words
    rarity = [word_rarity(word) for word in words]
    # One word a sentence: the best sentence holds the rarest word, weighted by its rarity.
    assert best_sentence_coverage(words, "招商很重要。引资也重要。进度落后。") == pytest.approx(max(rarity) / sum(rarity))
    assert best_sentence_coverage([], "任何文字") == 0.0


def test_coverage_counts_a_word_once_a_sentence_and_never_across_two():
    rarity = {word: word_rarity(word) for word in ("招商", "引资")}
    # 招商 three times in the first sentence, once in the last; 。引 only across the sentences' end.
    text = "招商招商再招商。引资。最后招商引资。"
    assert best_sentence_coverage(["招商", "引资"], text) == 1.0
    assert best_sentence_coverage(["招商", "。引", "引资"], "招商招商。引资。") == max(rarity.values()) / (
        rarity["招商"] + word_rarity("。引") + rarity["引资"])
    # A word no sentence can hold but every one contains (the empty word) still counts in each, as `in` does.
    assert best_sentence_coverage(["", "引资"], "招商。引资。") == (word_rarity("") + rarity["引资"]) / (
        word_rarity("") + rarity["引资"])


def test_a_named_day_that_a_document_fits_earns_the_date_bonus_twice():
    analysis = analyse("What did Li Qiang say on 15 May 2026?", english=True)
    that_day, next_day, that_month = (candidate(pid, "内容", 0.5, date=date)
                                      for pid, date in ((1, "2026-05-15"), (2, "2026-05-16"), (3, "2026-05-03")))
    scores = dict(rerank(analysis, [], [that_month, next_day, that_day]))
    np.testing.assert_allclose([scores[1], scores[2], scores[3]],
                               [0.5 + 2 * WEIGHTS.date_weight, 0.5 + 2 * WEIGHTS.date_weight, 0.5 + WEIGHTS.date_weight])


def test_a_passage_that_answers_in_one_sentence_moves_up():
    analysis = analyse("招商引资为什么落后", english=False)
    spread = candidate(1, "招商很重要。引资也重要。进度落后。", 0.50)
    focused = candidate(2, "今年招商引资进度落后于全市。", 0.48)
    assert [pid for pid, _ in rerank(analysis, ["招商", "引资", "落后"], [spread, focused])] == [2, 1]


def test_named_dates_and_speakers_are_a_soft_bonus_that_can_be_turned_off():
    analysis = analyse("2022年賴清德說了什麼", english=False, speakers=frozenset({"賴清德"}))
    other_year = candidate(1, "内容", 0.60, date="2023-05-01", speaker="賴清德")
    right_year = candidate(2, "内容", 0.55, date="2022-09-01")
    scores = dict(rerank(analysis, [], [other_year, right_year]))  # both earn a bonus: the speaker, the year
    np.testing.assert_allclose([scores[1], scores[2]], [0.60 + WEIGHTS.speaker_weight, 0.55 + WEIGHTS.date_weight], rtol=1e-6)
    far_ahead = candidate(3, "内容", 0.90, date="2019-01-01")
    assert [pid for pid, _ in rerank(analysis, [], [far_ahead, right_year])] == [3, 2]  # never a filter
    plain = rerank(analysis, [], [other_year, right_year], use_preferences=False)
    np.testing.assert_allclose([score for _, score in plain], [0.60, 0.55], rtol=1e-6)


def test_a_cross_encoder_reorders_the_head_and_the_tail_stays_below():
    analysis = analyse("问题", english=False)
    head = [candidate(i, f"段落{i}", 1.0 - i / 1000) for i in range(WEIGHTS.depth)]
    tail = [candidate(WEIGHTS.depth + 1, "尾部", 0.01)]
    seen: list[tuple[str, int]] = []

    def scorer(query, texts):
        seen.append((query, len(texts)))
        return np.array([1.0 if text == "段落7" else 0.0 for text in texts])

    ranked = rerank(analysis, [], head + tail, cross_encoder=scorer)
    assert seen == [("问题", WEIGHTS.depth)]
    assert ranked[0][0] == 7 and ranked[-1][0] == WEIGHTS.depth + 1
    assert ranked[-1][1] <= min(score for _, score in ranked[:-1])


def test_coverage_weighs_rare_words_and_leaves_the_title_out():
    # Common and rare word in different sentences: the sentence with the rare one is the best.
    assert best_sentence_coverage(["建议", "金正恩"], "他提出建议。金正恩到场。") > 0.5
    # The title's words say which document, not which passage: only the other words count.
    title = "习近平参访朝鲜劳动党中央干部学校"
    words = ["习近平", "参访", "金正恩", "种下"]
    lead = "习近平参访干部学校，金正恩陪同。"
    answer = "两人一起种下一株枞树，金正恩致辞。"
    assert best_sentence_coverage(words, answer, title) > best_sentence_coverage(words, lead, title)
    assert best_sentence_coverage(words, answer) < best_sentence_coverage(words, lead)  # without the title it would not
    assert best_sentence_coverage(["习近平"], lead, title) == 1.0  # a query of title words only still counts them


def test_the_answering_passage_of_a_document_moves_above_its_lead():
    analysis = analyse("习近平参访干部学校时和金正恩种下了什么树", english=False)
    title = "习近平参访朝鲜劳动党中央干部学校"
    lead_text, answer_text = "习近平参访干部学校，金正恩陪同参观。", "习近平和金正恩一起种下一株枞树。"
    lead, answer = candidate(1, lead_text, 0.60, title=title), candidate(2, answer_text, 0.55, title=title)
    words = ["习近平", "参访", "干部", "学校", "金正恩", "种下", "树"]
    assert [pid for pid, _ in rerank(analysis, words, [lead, answer])] == [2, 1]


def test_an_english_question_is_rescored_by_its_cosine_with_each_documents_title():
    english = analyse("Where does Taiwan rank among Montana's trading partners?", english=True)
    interview = candidate(1, "Taiwan is a reliable trading partner.", 0.74, title="總統接受CNN專訪")
    meeting = candidate(2, "臺灣是蒙大拿州第7大貿易夥伴。", 0.62, title="接見美國蒙大拿州州長")
    untitled = candidate(3, "其他內容。", 0.61, title="")
    cosines = {"總統接受CNN專訪": 0.80, "接見美國蒙大拿州州長": 0.86}
    ranked = rerank(english, ["台湾"], [interview, meeting, untitled], title_cosines=cosines)
    assert [pid for pid, _ in ranked] == [2, 1, 3]
    np.testing.assert_allclose([score for _, score in ranked], [0.62 + WEIGHTS.title_weight, 0.74, 0.61], rtol=1e-6)
    # Without title vectors (a backend that holds none) the order is the first stage's.
    assert [pid for pid, _ in rerank(english, ["台湾"], [interview, meeting, untitled], title_cosines={})] == [1, 2, 3]
    # A Chinese question has its own words to go by: the titles' cosines are not read.
    chinese = analyse("臺灣是蒙大拿州第幾大貿易夥伴", english=False)
    plain = rerank(chinese, ["台湾"], [interview, meeting], title_cosines=cosines)
    assert plain == rerank(chinese, ["台湾"], [interview, meeting])


def test_a_title_earns_the_bonus_by_standing_out_among_the_candidates_titles():
    titles = ["國內聯播快訊", "總統出席活動", "總統接見訪賓", "接見美國蒙大拿州州長"]
    candidates = [candidate(i, "內容。", 0.5, title=title) for i, title in enumerate(titles, start=1)]
    candidates.append(candidate(5, "內容。", 0.5, title="沒有向量的標題"))
    cosines = {"國內聯播快訊": 0.80, "總統出席活動": 0.81, "總統接見訪賓": 0.80, "接見美國蒙大拿州州長": 0.95}
    standing = title_standing(cosines, candidates)
    assert standing[3] == 1.0  # far above the others
    assert standing[1] == 0.0 and standing[0] == 0.0 and standing[4] == 0.0  # a hair above the worst earns nothing
    # Titles that all fit alike earn nothing, however they are ordered.
    alike = {title: 0.8 for title in titles}
    assert not title_standing(alike, candidates).any()
    assert not title_standing({}, candidates).any()
