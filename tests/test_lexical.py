import numpy as np
import pytest

import qa.index.lexical as lexical_module
from qa.index.lexical import LexicalIndex
from qa.text.tokens import lexical_tokens
from qa.types import PassageFilter


def test_tokens_are_simplified_words_without_punctuation():
    # A real line of seed 002 (Traditional with pinyin already removed).
    tokens = lexical_tokens("招商引資進度全市排名最后,與6月末實現“雙過半”的目標存在較大差距。")
    assert tokens == ["招商", "引资", "招商引资", "进度", "全市", "排名", "最后", "6", "月末", "实现", "双", "过半",
                      "目标", "存在", "较大", "差距"]


def test_traditional_and_simplified_texts_tokenise_alike():
    assert lexical_tokens("縣工業領導組擴大會上的講話") == lexical_tokens("县工业领导组扩大会上的讲话")


def test_english_and_figures_lowercased():
    assert lexical_tokens("GDP grew 1.4亿元") == ["gdp", "grew", "1.4", "亿元"]


class FakeStore:
    """The two store reads a lexical reader needs for filters."""

    def __init__(self, by_doc: dict[str, list[int]]) -> None:
        self.by_doc = by_doc

    def filtered_pids(self, where: PassageFilter) -> np.ndarray:
        return np.array(sorted(p for d in where.doc_ids for p in self.by_doc.get(d, [])), dtype=np.int64)

    def pids_of_document(self, doc_id: str) -> np.ndarray:
        return np.array(self.by_doc.get(doc_id, []), dtype=np.int64)


def test_search_ranks_matching_passage_and_respects_filters(tmp_path):
    texts = ["招商引资进度全市排名最后", "工业经济运行情况良好", "深入开展平安创建活动"]
    index = LexicalIndex.build(np.array([10, 11, 12]), [lexical_tokens(t) for t in texts], 1)
    store = FakeStore({"a": [10], "b": [11, 12]})
    reader = index.reader(store)
    pids, scores = reader.search(lexical_tokens("招商引資為什麼落後"), 5)
    assert pids.tolist() == [10] and scores[0] > 0 and pids.dtype == np.int64 and scores.dtype == np.float32
    assert reader.search(lexical_tokens("招商引资 工业经济"), 5, PassageFilter(doc_ids=("b",)))[0].tolist() == [11]
    assert reader.search(lexical_tokens("招商引资 工业经济"), 5, exclude_doc="a")[0].tolist() == [11]
    assert reader.score(lexical_tokens("工业经济"), np.array([12, 11, 99])).tolist()[0::2] == [0.0, 0.0]
    entry = index.save(tmp_path)
    again = LexicalIndex.load(tmp_path, entry)
    assert again.reader().search(lexical_tokens("平安创建"), 3)[0].tolist() == [12] and again.version == 1


def test_unknown_words_and_empty_index_give_nothing(tmp_path):
    empty = LexicalIndex.build(np.empty(0, dtype=np.int64), [], 0)
    assert len(empty.reader().search(["招商"], 5)[0]) == 0
    entry = empty.save(tmp_path)
    assert LexicalIndex.load(tmp_path, entry).count() == 0
    index = LexicalIndex.build(np.array([1]), [lexical_tokens("工业经济")], 0)
    assert len(index.reader().search(lexical_tokens("xyzzy"), 5)[0]) == 0 and not index.reader().knows("xyzzy")


def random_passages(n: int, seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    vocabulary = [f"w{i}" for i in range(60)]
    return [list(rng.choice(vocabulary, size=rng.integers(0, 40))) for _ in range(n)]


def test_scores_are_those_bm25s_computed_before():
    """The same Lucene BM25 the index was built with until now, so retrieval figures stay valid."""
    import bm25s

    passages = random_passages(300, 1)
    query = ["w1", "w2", "w2", "w40", "never-seen"]
    ours = LexicalIndex.build(np.arange(300), passages, 0).reader()
    theirs = bm25s.BM25()
    theirs.index(passages, show_progress=False)
    expected = theirs.get_scores([t for t in query if t in theirs.vocab_dict])
    np.testing.assert_allclose(ours.score(query, np.arange(300)), expected, rtol=1e-5, atol=1e-6)


def test_adds_removes_and_merges_give_a_fresh_builds_results(monkeypatch):
    monkeypatch.setattr(lexical_module, "RECENT_MIN", 50)
    monkeypatch.setattr(lexical_module, "MAX_RECENT_SEGMENTS", 3)
    passages = random_passages(400, 2)
    pids = np.arange(400, dtype=np.int64) * 3 + 5
    index = LexicalIndex.build(pids[:100], passages[:100], 1)
    before = index.reader()
    removed = [3, 150, 399, 77, 220]
    version = 1
    for start in range(100, 400, 20):
        version += 1
        index.add(pids[start : start + 20], passages[start : start + 20], version)
        if index.needs_maintenance():
            index.maintain()
    version += 1
    index.remove(pids[removed], version)
    assert index.segment_count <= 4
    kept = [i for i in range(400) if i not in removed]
    fresh = LexicalIndex.build(pids[kept], [passages[i] for i in kept], version).reader()
    query = ["w3", "w7", "w7", "w59"]
    for reader in (index.reader(), ):
        got, expected = reader.search(query, 50), fresh.search(query, 50)
        assert got[0].tolist() == expected[0].tolist()
        np.testing.assert_allclose(got[1], expected[1], atol=1e-5)
    monkeypatch.setattr(lexical_module, "RECENT_MIN", 1)
    index.maintain()  # everything into one main segment, tombstones dropped
    assert index.segment_count == 1
    got = index.reader().search(query, 50)
    assert got[0].tolist() == fresh.search(query, 50)[0].tolist()
    np.testing.assert_allclose(got[1], fresh.search(query, 50)[1], atol=1e-5)
    assert before.count() == 100 and before.version == 1  # a reader keeps its version


@pytest.mark.parametrize("removed_first", [True, False])
def test_a_merge_carries_over_changes_made_while_it_ran(monkeypatch, removed_first):
    monkeypatch.setattr(lexical_module, "RECENT_MIN", 1)
    passages = random_passages(60, 3)
    index = LexicalIndex.build(np.arange(30), passages[:30], 1)
    index.add(np.arange(30, 60), passages[30:], 2)
    real_merged = lexical_module.Segment.merged

    def merged_while_changing(parts):
        out = real_merged(parts)
        if removed_first:
            index.remove(np.array([5, 40]), 3)
            index.add(np.array([60]), [["w1", "w2"]], 4)
        else:
            index.add(np.array([60]), [["w1", "w2"]], 3)
            index.remove(np.array([5, 40]), 4)
        return out

    monkeypatch.setattr(lexical_module.Segment, "merged", staticmethod(merged_while_changing))
    index.maintain()
    kept = [i for i in range(60) if i not in (5, 40)]
    fresh = LexicalIndex.build(np.array([*kept, 60]), [*(passages[i] for i in kept), ["w1", "w2"]], 4).reader()
    got = index.reader().search(["w1", "w2", "w9"], 70)
    assert index.version == 4 and index.count() == 59
    assert got[0].tolist() == fresh.search(["w1", "w2", "w9"], 70)[0].tolist()
    np.testing.assert_allclose(got[1], fresh.search(["w1", "w2", "w9"], 70)[1], atol=1e-5)
