"""Each step of retrieval alone, over the sample speeches embedded with a deterministic fake encoder."""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from embeddings.base import Encoder
from qa.index.collection import Collection
from qa.ingest.pipeline import Ingester
from qa.search.fusion import fuse, ranked
from qa.search.query import NamedDate, analyse
from qa.search.ranking import DEFAULT_RANKING, CollapseRule, Depths, FusionWeights, SecondStageWeights
from qa.search.retrieval import (
    Candidates,
    Evidence,
    Query,
    Read,
    collapse_hits,
    find_candidates,
    fuse_evidence,
    gather_evidence,
    read_passages,
    second_stage,
)
from qa.text.normalize import to_simplified
from qa.text.tokens import lexical_tokens
from qa.types import Document, Metadata, Passage, PassageFilter

SEEDS = Path(__file__).parents[1] / "qa" / "sample_speeches"
QUESTION = "招商引资进度为什么落后"


class BigramEncoder(Encoder):
    """Unit vectors of hashed character bigram counts: the same text always gets the same vector, and
    texts that share wording get near ones. It knows nothing of meaning."""

    name = "test-bigrams"
    dim = 64
    backend = "test"

    def tokenize(self, texts: Sequence[str], kind: str) -> list[str]:
        return ["".join(text.casefold().split()) for text in texts]

    def forward(self, inputs: list[str]) -> np.ndarray:
        out = np.zeros((len(inputs), self.dim), dtype=np.float32)
        for row, text in enumerate(inputs):
            for i in range(max(len(text) - 1, 0)):
                out[row, zlib.crc32(text[i : i + 2].encode()) % self.dim] += 1
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
            else:
                out[row, 0] = 1.0
        return out


# Named apart from conftest's session-wide fake_encoder: a module fixture of the same name would be
# what the session's fake servers are built with whenever this module's tests start the session.
@pytest.fixture(scope="module")
def bigram_encoder() -> Encoder:
    return BigramEncoder()


@pytest.fixture(scope="module")
def collection(tmp_path_factory, bigram_encoder):
    collection = Collection.open(tmp_path_factory.mktemp("fake-seeds"), bigram_encoder.name, create=True)
    report = Ingester(collection, bigram_encoder).add_paths([SEEDS], max_bytes=20 * 1024 * 1024)
    assert len(report.added) == 5, report
    collection.rebuild_indexes()
    yield collection
    collection.close()


def query_of(encoder: Encoder, text: str, mode: str = "hybrid", k: int = 10, *, english: bool = False,
             clauses: bool = False, **fields) -> Query:
    """A Query as the service reads one: its vector, its clauses' and its BM25 words, for the sides its mode runs."""
    analysis = analyse(text, english=english)
    vector = encoder.embed_query(to_simplified(text)) if mode in ("hybrid", "dense") else None
    words = tuple(lexical_tokens(text)) if mode in ("hybrid", "lexical") else None
    clause_vectors = tuple(encoder.embed_query(c) for c in analysis.clauses) if clauses else ()
    return Query(text, mode, k, analysis, vector=vector, words=words, clause_vectors=clause_vectors, **fields)


def passage(pid: int, text: str, doc: str | None = None) -> Passage:
    return Passage(f"c-{pid}", doc or f"d-{pid}", 0, text, 0, len(text))


def document(doc_id: str, date: str | None = None, title: str = "標題") -> Document:
    return Document(doc_id, "", "hash", Metadata(title=title, date=date), "zh-Hant")


# -- candidates ---------------------------------------------------------------------------


def test_candidates_are_both_lists_in_order_of_first_appearance(collection, bigram_encoder):
    query = query_of(bigram_encoder, QUESTION, k=3)
    depths = Depths(candidates=5, candidates_per_hit=1)
    with collection.snapshot() as view:
        found = find_candidates(view, query, replace(DEFAULT_RANKING, depths=depths))
        dense = view.vectors.search(query.vector, 5)[0].tolist()
        lexical = view.lexical.search(query.words, 5)[0].tolist()
    assert found.pids.tolist() == list(dict.fromkeys(dense + lexical))
    assert found.dense_depth == 5 and len(dense) == len(lexical) == 5
    # k asks for more than the floor: each list is candidates_per_hit x k long.
    with collection.snapshot() as view:
        assert find_candidates(view, replace(query, k=7), replace(DEFAULT_RANKING, depths=depths)).dense_depth == 7


def test_a_mode_draws_candidates_from_its_own_index_only(collection, bigram_encoder):
    config = replace(DEFAULT_RANKING, depths=Depths(candidates=4, candidates_per_hit=1))
    with collection.snapshot() as view:
        dense = find_candidates(view, query_of(bigram_encoder, QUESTION, "dense", k=2), config)
        lexical = find_candidates(view, query_of(bigram_encoder, QUESTION, "lexical", k=2), config)
        assert dense.pids.tolist() == view.vectors.search(query_of(bigram_encoder, QUESTION).vector, 4)[0].tolist()
        assert lexical.pids.tolist() == view.lexical.search(tuple(lexical_tokens(QUESTION)), 4)[0].tolist()


def test_candidates_keep_to_the_filters_and_leave_out_the_excluded_document(collection, bigram_encoder):
    with collection.snapshot() as view:
        everything = find_candidates(view, query_of(bigram_encoder, "工业发展"), DEFAULT_RANKING)
        doc_ids = {p.doc_id for p in view.passages(everything.pids.tolist()).values()}
        one, other = sorted(doc_ids)[:2]
        narrowed = find_candidates(view, query_of(bigram_encoder, "工业发展", where=PassageFilter(doc_ids=(one,))),
                                   DEFAULT_RANKING)
        excluded = find_candidates(view, query_of(bigram_encoder, "工业发展", exclude_doc=other), DEFAULT_RANKING)
        assert {p.doc_id for p in view.passages(narrowed.pids.tolist()).values()} == {one}
        assert other not in {p.doc_id for p in view.passages(excluded.pids.tolist()).values()}
        assert len(excluded.pids) < len(everything.pids)


def test_a_named_year_draws_candidates_from_its_own_period_too(collection, bigram_encoder):
    text = "2023年工业经济工作怎么抓"
    config = replace(DEFAULT_RANKING, depths=Depths(candidates=2, candidates_per_hit=1),
                     second_stage=replace(DEFAULT_RANKING.second_stage, depth=3))
    with collection.snapshot() as view:
        favoured = find_candidates(view, query_of(bigram_encoder, text, k=1), config)
        plain = find_candidates(view, query_of(bigram_encoder, text, k=1, prefer=False), config)
        within = PassageFilter(date_from="2023-01-01", date_to="2023-12-31")
        period = view.vectors.search(query_of(bigram_encoder, text).vector, 3, within)[0].tolist()
        dated = {pid: view.documents([p.doc_id])[p.doc_id].metadata.date for pid, p in
                 view.passages(favoured.pids.tolist()).items()}
    assert len(plain.pids) <= 4 and favoured.pids.tolist()[: len(plain.pids)] == plain.pids.tolist()
    assert set(period) <= set(favoured.pids.tolist()) and len(period) == 3
    assert all(dated[pid].startswith("2023") for pid in period)
    # Without that preference, or outside hybrid search, a named year draws nothing of its own.
    with collection.snapshot() as view:
        dense = find_candidates(view, query_of(bigram_encoder, text, "dense", k=1), config)
    assert len(dense.pids) == 2


def test_a_named_day_draws_candidates_from_its_month_and_from_that_day_and_the_next():
    day = dt.date
    assert NamedDate(2026, 5, 15).periods() == [(day(2026, 5, 1), day(2026, 5, 31)), (day(2026, 5, 15), day(2026, 5, 16))]
    assert NamedDate(2025, 12, 31).periods()[1] == (day(2025, 12, 31), day(2026, 1, 1))
    assert NamedDate(2024, 2).periods() == [(day(2024, 2, 1), day(2024, 2, 29))]
    assert NamedDate(2023).periods() == [(day(2023, 1, 1), day(2023, 12, 31))]
    assert NamedDate(2026, 4, 31).periods() == [(day(2026, 4, 1), day(2026, 4, 30))]  # no such day: the month stands
    assert NamedDate(None, 2, 8).periods() == []  # without a year, no period


# -- evidence -----------------------------------------------------------------------------


def test_evidence_is_each_candidates_cosine_and_bm25(collection, bigram_encoder):
    query = query_of(bigram_encoder, QUESTION)
    with collection.snapshot() as view:
        candidates = find_candidates(view, query, DEFAULT_RANKING)
        evidence = gather_evidence(view, query, candidates, DEFAULT_RANKING.fusion)
        np.testing.assert_array_equal(evidence.cosine, view.dense_scores(query.vector, candidates.pids))
        np.testing.assert_array_equal(evidence.bm25, view.lexical.score(query.words, candidates.pids))
        lexical_only = gather_evidence(view, query_of(bigram_encoder, QUESTION, "lexical"), candidates,
                                       DEFAULT_RANKING.fusion)
        nothing = gather_evidence(view, query, Candidates(np.array([], dtype=np.int64), 100), DEFAULT_RANKING.fusion)
    assert lexical_only.cosine is None and lexical_only.bm25 is not None
    assert nothing.cosine is None and nothing.bm25 is None


def test_a_questions_clauses_are_mixed_into_its_cosine_at_the_clause_weight(collection, bigram_encoder):
    text = "那位陈章平副书记在会上，要求各镇怎么抓工业经济？"
    query = query_of(bigram_encoder, text, clauses=True)
    assert len(query.clause_vectors) == 2
    with collection.snapshot() as view:
        candidates = find_candidates(view, query, DEFAULT_RANKING)
        cosines = view.sentence_cosines(np.stack([query.vector, *query.clause_vectors]), candidates.pids)
        for weight in (0.0, 0.3, 1.0):
            evidence = gather_evidence(view, query, candidates, FusionWeights(clause_weight=weight))
            expected = (1 - weight) * cosines[:, 0] + weight * cosines[:, 1:].mean(axis=1)
            np.testing.assert_allclose(evidence.cosine, expected, rtol=1e-6)


def test_an_english_questions_rendering_draws_its_own_list_and_shares_its_cosine(collection, bigram_encoder):
    text = "How should the county attract investment?"
    plain = query_of(bigram_encoder, text, k=1, english=True)
    query = replace(plain, rendering_vector=bigram_encoder.embed_query("县招商引资"))
    short = replace(DEFAULT_RANKING, depths=Depths(candidates=3, candidates_per_hit=1))  # lists short enough to differ
    with collection.snapshot() as view:
        candidates = find_candidates(view, query, short)
        own_list = view.vectors.search(query.rendering_vector, 3, query.where)[0]
        without = find_candidates(view, plain, short).pids.tolist()
        assert set(own_list.tolist()) - set(without)  # it finds what the English vector and BM25 did not
        assert candidates.pids.tolist() == list(dict.fromkeys(without + own_list.tolist()))
        cosines = view.sentence_cosines(np.stack([query.vector, query.rendering_vector]), candidates.pids)
        for share in (0.0, 0.5, 1.0):
            evidence = gather_evidence(view, query, candidates, FusionWeights(rendering_share=share))
            np.testing.assert_allclose(evidence.cosine, (1 - share) * cosines[:, 0] + share * cosines[:, 1], rtol=1e-6)


# -- fusion -------------------------------------------------------------------------------


def test_fusion_ranks_by_the_modes_evidence():
    candidates = Candidates(np.array([11, 12, 13, 14]), dense_depth=2)
    evidence = Evidence(np.array([0.9, 0.5, 0.7, 0.1], dtype=np.float32),
                        np.array([0.0, 8.0, 2.0, 4.0], dtype=np.float32))
    analysis = analyse("问题", english=False)
    dense, lexical, hybrid = (Query("问题", mode, 10, analysis) for mode in ("dense", "lexical", "hybrid"))
    assert [pid for pid, _ in fuse_evidence(dense, candidates, evidence, FusionWeights())] == [11, 13, 12, 14]
    assert [pid for pid, _ in fuse_evidence(lexical, candidates, evidence, FusionWeights())] == [12, 14, 13, 11]
    weights = FusionWeights(dense_weight=0.25)
    expected = ranked(candidates.pids, fuse(evidence.cosine, evidence.bm25, dense_weight=0.25, dense_depth=2))
    assert fuse_evidence(hybrid, candidates, evidence, weights) == expected
    # Cosines scaled from the one just below the dense depth (0.5): 1, 0, 0.5, 0; BM25 over its best.
    assert expected == [(12, 0.75), (14, 0.375), (13, 0.3125), (11, 0.25)]
    assert fuse_evidence(lexical, candidates, Evidence(evidence.cosine, None), weights) == []


# -- the passages read --------------------------------------------------------------------


def test_one_read_serves_the_head_and_facets_read_what_they_count_of_every_candidate(collection, bigram_encoder):
    config = replace(DEFAULT_RANKING, depths=Depths(hits_per_hit=1, hits_extra=0),
                     second_stage=replace(DEFAULT_RANKING.second_stage, depth=4))
    search, similar = query_of(bigram_encoder, "工业发展", k=2), query_of(bigram_encoder, "工业发展", k=6, exclude_doc="d-none")
    with collection.snapshot() as view:
        candidates = find_candidates(view, search, config)
        evidence = gather_evidence(view, search, candidates, config.fusion)
        ranking = fuse_evidence(search, candidates, evidence, config.fusion)
        head = read_passages(view, search, ranking, config)
        wider = read_passages(view, similar, ranking, config)
        every = view.passages(candidates.pids.tolist())
        documents = view.documents([p.doc_id for p in every.values()])
        fields = view.facet_fields(candidates.pids.tolist())
    assert len(candidates.pids) > 6
    assert set(head.passages) == {pid for pid, _ in ranking[:4]}  # the larger of the second stage's and the hits'
    assert set(wider.passages) == {pid for pid, _ in ranking[:6]}
    assert set(head.documents) == {p.doc_id for p in head.passages.values()}
    assert sorted(fields, key=str) == sorted((documents[p.doc_id].facet_fields for p in every.values()), key=str)
    assert head.title_cosines is None  # a Chinese question goes by its own words


def test_an_english_question_reads_the_cosines_of_its_first_candidates_titles(collection, bigram_encoder):
    text = "What did the county say about investment attraction?"
    query = query_of(bigram_encoder, text, english=True)
    config = replace(DEFAULT_RANKING, second_stage=replace(DEFAULT_RANKING.second_stage, depth=3))
    with collection.snapshot() as view:
        candidates = find_candidates(view, query, config)
        evidence = gather_evidence(view, query, candidates, config.fusion)
        ranking = fuse_evidence(query, candidates, evidence, config.fusion)
        read = read_passages(view, query, ranking, config)
        titles = {read.documents[read.passages[pid].doc_id].metadata.title for pid, _ in ranking[:3]}
        assert read.title_cosines == view.title_scores(query.vector, [t for t in titles if t])
    assert read.title_cosines and set(read.title_cosines) <= titles


# -- second stage -------------------------------------------------------------------------


def test_the_second_stage_rescores_its_depth_and_keeps_the_rest_below_in_order():
    query = Query("2023年的讲话", "hybrid", 10, analyse("2023年的讲话", english=False), words=())
    passages = {pid: passage(pid, f"内容{pid}") for pid in range(1, 6)}
    documents = {f"d-{pid}": document(f"d-{pid}", "2023-05-11" if pid == 2 else "2022-01-01") for pid in range(1, 6)}
    ranking = [(1, 0.9), (2, 0.85), (3, 0.5), (4, 0.4), (5, 0.3)]
    weights = SecondStageWeights(depth=2, date_weight=0.2)
    rescored = second_stage(query, ranking, Read(passages, documents), weights)
    assert rescored[:2] == [(2, pytest.approx(1.05)), (1, pytest.approx(0.9))]  # the year it names, favoured
    assert rescored[2:] == ranking[2:]
    plain = second_stage(replace(query, prefer=False), ranking, Read(passages, documents), weights)
    assert [pid for pid, _ in plain] == [1, 2, 3, 4, 5]
    # A passage whose document was not read (removed meanwhile) is left out of the head.
    del documents["d-2"]
    assert [pid for pid, _ in second_stage(query, ranking, Read(passages, documents), weights)] == [1, 3, 4, 5]


def test_a_passage_stating_the_named_month_fits_it_as_one_dated_in_it_does():
    # The March promotions are held late in February: the release naming them is dated a month early.
    text = "115年3月的问题"
    query = Query(text, "hybrid", 10, analyse(text, english=False), words=())
    passages = {1: passage(1, "115年4月份晋任典礼"), 2: passage(2, "115年3月份晋任典礼"), 3: passage(3, "其他")}
    documents = {"d-1": document("d-1", "2026-03-25"), "d-2": document("d-2", "2026-02-25"),
                 "d-3": document("d-3", "2026-01-01")}
    ranking = [(1, 0.9), (2, 0.85), (3, 0.8)]
    rescored = second_stage(query, ranking, Read(passages, documents), SecondStageWeights(depth=3, date_weight=0.2))
    assert rescored == [(1, pytest.approx(1.1)), (2, pytest.approx(1.05)), (3, pytest.approx(0.8))]


def test_a_cross_encoder_reads_the_head_only():
    query = Query("问题", "hybrid", 10, analyse("问题", english=False), words=())
    passages = {pid: passage(pid, f"段落{pid}") for pid in range(1, 5)}
    documents = {f"d-{pid}": document(f"d-{pid}") for pid in range(1, 5)}
    seen: list[list[str]] = []

    def scorer(text: str, texts: Sequence[str]) -> np.ndarray:
        seen.append(list(texts))
        return np.array([1.0 if t == "段落3" else 0.0 for t in texts])

    ranking = [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6)]
    rescored = second_stage(query, ranking, Read(passages, documents), SecondStageWeights(depth=3), scorer)
    assert seen == [["段落1", "段落2", "段落3"]]
    assert [pid for pid, _ in rescored] == [3, 1, 2, 4]


# -- hits ---------------------------------------------------------------------------------


REPEATED = "县委县政府高度重视工业经济发展，各镇各部门要把招商引资作为头等大事来抓，确保完成全年目标任务。"


def test_near_identical_passages_become_one_hit_that_counts_the_others():
    texts = {1: REPEATED, 2: "完全不同的一段话，讲的是农村饮水安全工程的建设进度。", 3: REPEATED + "散会。", 4: REPEATED[:20]}
    passages = {pid: passage(pid, text) for pid, text in texts.items()}
    documents = {f"d-{pid}": document(f"d-{pid}") for pid in texts}
    ranking = [(1, 0.91234), (2, 0.8), (3, 0.7), (4, 0.6)]
    query = Query("工业经济", "hybrid", 10, analyse("工业经济", english=False))
    hits = collapse_hits(ranking, query, Read(passages, documents), DEFAULT_RANKING)
    # 3 repeats 1 whole; 4 is a fragment of it, too short to be a copy.
    assert [(h.rank, h.passage.chunk_id, h.score, h.duplicates) for h in hits] == [
        (1, "c-1", 0.9123, 1), (2, "c-2", 0.8, 0), (3, "c-4", 0.6, 0)]
    assert hits[0].highlights  # the query's words, marked in the passage
    strict = replace(DEFAULT_RANKING, collapse=CollapseRule(shared_grams=1.01))
    assert [h.duplicates for h in collapse_hits(ranking, query, Read(passages, documents), strict)] == [0, 0, 0, 0]
    loose = replace(DEFAULT_RANKING, collapse=CollapseRule(comparable_length=0.0))
    kept = collapse_hits(ranking, query, Read(passages, documents), loose)
    assert [h.passage.chunk_id for h in kept] == ["c-1", "c-2"]


def test_hits_are_the_top_k_drawn_from_the_hit_window():
    passages = {pid: passage(pid, f"第{pid}段：" + "不同的内容" * pid) for pid in range(1, 9)}
    documents = {f"d-{pid}": document(f"d-{pid}") for pid in range(1, 9)}
    ranking = [(pid, 1.0 - pid / 10) for pid in range(1, 9)]
    query = Query("内容", "hybrid", 2, analyse("内容", english=False))
    hits = collapse_hits(ranking, query, Read(passages, documents), DEFAULT_RANKING)
    assert [h.passage.chunk_id for h in hits] == ["c-1", "c-2"]
    # Passages beyond the window are never reached, whatever is collapsed before them.
    window = replace(DEFAULT_RANKING, depths=Depths(hits_per_hit=0, hits_extra=1))
    assert [h.passage.chunk_id for h in collapse_hits(ranking, query, Read(passages, documents), window)] == ["c-1"]
    del passages[1]
    assert [h.passage.chunk_id for h in collapse_hits(ranking, query, Read(passages, documents), DEFAULT_RANKING)] == [
        "c-2", "c-3"]


# -- the steps, run by the search service -------------------------------------------------


def test_the_service_runs_the_steps_with_its_ranking_configuration(collection, bigram_encoder):
    from qa.search.service import SearchRequest, SearchService

    text = "2023年工业经济工作怎么抓"
    default = SearchService(collection, bigram_encoder)
    strong = SearchService(collection, bigram_encoder, ranking=replace(
        DEFAULT_RANKING, second_stage=replace(DEFAULT_RANKING.second_stage, date_weight=0.5)))
    base = {h.passage.chunk_id: h.score for h in default.search(SearchRequest(query=text, k=30, prefer=False)).hits}
    for service, bonus in ((default, DEFAULT_RANKING.second_stage.date_weight), (strong, 0.5)):
        hits = service.search(SearchRequest(query=text, k=30)).hits
        assert hits[0].document.metadata.date.startswith("2023")
        compared = [hit for hit in hits if hit.passage.chunk_id in base]
        fitting = [(hit.document.metadata.date or "").startswith("2023") for hit in compared]
        assert any(fitting) and not all(fitting)
        for hit, fits in zip(compared, fitting, strict=True):
            assert hit.score == pytest.approx(base[hit.passage.chunk_id] + (bonus if fits else 0.0), abs=2e-4)
    # A smaller hit window cuts the hits short.
    narrow = SearchService(collection, bigram_encoder, ranking=replace(DEFAULT_RANKING, depths=Depths(hits_per_hit=0,
                                                                                                      hits_extra=3)))
    assert len(narrow.search(SearchRequest(query=text, k=10)).hits) <= 3 < len(default.search(SearchRequest(query=text, k=10)).hits)
