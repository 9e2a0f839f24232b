"""Reuse of a passage and the most reused passages (qa/search/reuse.py, qa/search/reuse_top.py), no model needed."""

from __future__ import annotations

import pytest
from reuse_helpers import StoreReuseView, fill_store, indexed, planted_documents, run_grams

from qa.errors import BadInputError, NotFoundError
from qa.index.reuse_index import MIN_RUN, ReuseIndex
from qa.search.reuse import ReuseRequest, reuse_of, series_key, title_template
from qa.search.reuse_top import TopReuseRequest, most_reused
from qa.text.fingerprints import reuse_codes
from qa.text.normalize import to_simplified

# A paragraph of the sample speech 000 (Traditional), copied below into xwlb stories of other years.
PARAGRAPH = ("加快工業經濟發展,一定要根據我縣實際,用好用夠政策,充分發揮我縣能源、旅游等資源比較優勢,完善工業發展規劃,"
             "加大上爭外引力度,突出工業發展重點,精心組織安排,全力推進工業強縣戰略的實施。")
TEMPLATE_TITLE = "全国政协#届#次会议闭幕"  # the title template of three xwlb stories


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    documents, _ = planted_documents()
    stories = [d for d in documents if (d.source or "").startswith("https://") and title_template(d.metadata.title) != TEMPLATE_TITLE]
    hosts = stories[:3]
    copies = {hosts[0].doc_id: to_simplified(PARAGRAPH), hosts[1].doc_id: PARAGRAPH.replace(",", "，"),
              hosts[2].doc_id: to_simplified(PARAGRAPH[:60])}  # the last copy: a fragment of it
    rebuilt = []
    for document in documents:
        if document.doc_id in copies:
            document = type(document)(document.doc_id, document.text + "\n" + copies[document.doc_id],
                                      document.content_hash + "-copy", document.metadata, document.script,
                                      document.sources)
        rebuilt.append(document)
    store = fill_store(tmp_path_factory.mktemp("reuse-search") / "speechqa.sqlite", rebuilt)
    view = StoreReuseView(store, ReuseIndex.build(indexed(store), store.version))
    yield view, {d.doc_id: d for d in rebuilt}, hosts
    store.close()


def chunk_holding(view, doc_id: str, wording: str):
    return next(p for p in view.passages_of(doc_id) if wording in p.text)


def holding(documents, text: str) -> set[str]:
    """The reference: documents sharing a run of MIN_RUN with the text, by brute force."""
    mine = run_grams(reuse_codes(text))
    return {doc_id for doc_id, d in documents.items() if mine & run_grams(reuse_codes(d.text))}


def test_a_pasted_paragraph_lists_every_copy_in_time_order(collection):
    view, documents, hosts = collection
    report = reuse_of(view, ReuseRequest(text=PARAGRAPH))
    doc_ids = [r.document.doc_id for r in report.reuses]
    assert set(doc_ids) == holding(documents, PARAGRAPH) >= {h.doc_id for h in hosts}
    assert report.total_documents == len(doc_ids) >= 4 and report.min_run == MIN_RUN
    dates = [r.document.metadata.date or "9999" for r in report.reuses]
    assert dates == sorted(dates)
    assert [r.earliest for r in report.reuses].count(True) == 1
    assert report.earliest is not None and report.earliest.doc_id == doc_ids[0] and not report.source_is_earliest
    whole = {r.document.doc_id: r for r in report.reuses}
    assert whole[hosts[0].doc_id].share == 1.0 and whole[hosts[1].doc_id].share == 1.0
    assert 0 < whole[hosts[2].doc_id].share < 1.0
    assert sum(p.documents for p in report.periods) == report.total_documents - report.undated_documents


def test_spans_mark_the_same_wording_on_both_sides(collection):
    view, documents, hosts = collection
    report = reuse_of(view, ReuseRequest(text=PARAGRAPH))
    for reuse in report.reuses:
        text = documents[reuse.document.doc_id].text
        for span in reuse.spans:
            mine, theirs = PARAGRAPH[slice(*span.source)], text[slice(*span.document)]
            assert reuse_codes(mine).tolist() == reuse_codes(theirs).tolist()
            assert span.length == len(reuse_codes(mine)) >= MIN_RUN
        passage = reuse.passage
        assert passage.doc_id == reuse.document.doc_id
        assert passage.char_start <= reuse.spans[0].document[0] < passage.char_end


def test_a_stored_passage_leaves_its_own_document_out(collection):
    view, documents, hosts = collection
    passage = chunk_holding(view, hosts[0].doc_id, to_simplified(PARAGRAPH)[:30])
    report = reuse_of(view, ReuseRequest(chunk_id=passage.chunk_id))
    assert report.source_passage == passage and report.source_document.doc_id == hosts[0].doc_id
    assert hosts[0].doc_id not in {r.document.doc_id for r in report.reuses}
    assert {hosts[1].doc_id, hosts[2].doc_id} <= {r.document.doc_id for r in report.reuses}


def test_filters_and_paging(collection):
    view, documents, hosts = collection
    everything = reuse_of(view, ReuseRequest(text=PARAGRAPH))
    second = everything.reuses[1].document.metadata.date
    later = reuse_of(view, ReuseRequest(text=PARAGRAPH, date_from=second))
    assert [r.document.doc_id for r in later.reuses] == [r.document.doc_id for r in everything.reuses
                                                         if (r.document.metadata.date or "") >= second]
    page = reuse_of(view, ReuseRequest(text=PARAGRAPH, offset=1, limit=2))
    assert [r.document.doc_id for r in page.reuses] == [r.document.doc_id for r in everything.reuses[1:3]]
    assert page.total_documents == everything.total_documents


def test_series_boilerplate_is_grouped_and_can_be_hidden(collection):
    view, documents, _ = collection
    meetings = sorted((d for d in documents.values() if title_template(d.metadata.title) == TEMPLATE_TITLE),
                      key=lambda d: d.metadata.date or "")
    assert len(meetings) == 3
    # A passage of one closing session that the others repeat (the order of business, the list of chairs).
    for meeting in meetings:
        for passage in view.passages_of(meeting.doc_id):
            report = reuse_of(view, ReuseRequest(chunk_id=passage.chunk_id))
            if report.series_documents:
                break
        else:
            continue
        break
    else:
        pytest.fail("the xwlb meetings share no stock line of the minimum length")
    assert report.series is not None and report.series.title == TEMPLATE_TITLE
    assert report.series.documents == report.series_documents == sum(r.same_series for r in report.reuses)
    hidden = reuse_of(view, ReuseRequest(chunk_id=passage.chunk_id, hide_series=True))
    assert not any(r.same_series for r in hidden.reuses)
    assert hidden.total_documents == report.total_documents - report.series_documents
    assert hidden.series_documents == report.series_documents


def test_title_templates():
    # Titles of xwlb stories: a leading tag, session numbers, an anniversary.
    assert title_template("[视频]【科学发展 成就辉煌】建设提速 让保障房更宜居") == "建设提速让保障房更宜居"
    assert title_template("全国政协十三届二次会议闭幕") == title_template("全国政协十三届三次会议闭幕") == "全国政协#届#次会议闭幕"
    assert title_template("[视频]胡锦涛《在庆祝香港回归祖国15周年大会暨香港特别行政区第四届政府就职典礼上的讲话》单行本出版") == \
        "胡锦涛《在庆祝香港回归祖国#周年大会暨香港特别行政区第#届政府就职典礼上的讲话》单行本出版"
    assert title_template("一带一路") == "一带一路" and title_template("") is None


def test_the_most_reused_passages(collection):
    view, documents, hosts = collection
    top = most_reused(view, TopReuseRequest(limit=5))
    assert top.passages and top.candidates_checked >= len(top.passages)
    counts = [p.documents for p in top.passages]
    assert counts == sorted(counts, reverse=True)
    assert any(reuse_codes(PARAGRAPH[:MIN_RUN]).tobytes() in reuse_codes(p.passage.text).tobytes() for p in top.passages)
    for item in top.passages:
        exact = reuse_of(view, ReuseRequest(chunk_id=item.passage.chunk_id))
        assert item.documents == exact.total_documents + 1
        dates = [r.document.metadata.date for r in exact.reuses if r.document.metadata.date] + [item.document.metadata.date]
        assert item.first_date == min(d for d in dates if d)
        shared = item.passage.text[slice(*item.shared)]
        assert len(reuse_codes(shared)) >= MIN_RUN
        wording = set(range(*item.shared)) & {i for i, ch in enumerate(item.passage.text) if ch.isalnum()}
        covering = [r for r in exact.reuses if wording <= {i for s in r.spans for i in range(*s.source)}]
        assert item.shared_documents == len(covering) >= 1


def test_series_keys_need_a_title(collection):
    view, documents, _ = collection
    untitled = next((d for d in documents.values() if not d.metadata.title), None)
    if untitled is not None:
        assert series_key(untitled) is None


@pytest.mark.parametrize("request_, error, message", [
    (ReuseRequest(), BadInputError, "either the chunk_id"),
    (ReuseRequest(chunk_id="c-1", text="两个"), BadInputError, "not both"),
    (ReuseRequest(text="太短的一句话"), BadInputError, f"at least {MIN_RUN}"),
    (ReuseRequest(chunk_id="c-nope"), NotFoundError, "no passage with chunk_id"),
    (ReuseRequest(text=PARAGRAPH, limit=0), BadInputError, "limit between"),
    (ReuseRequest(text=PARAGRAPH, date_from="2023-13-01"), BadInputError, "ISO date"),
])
def test_bad_requests_say_what_to_change(collection, request_, error, message):
    with pytest.raises(error, match=message):
        reuse_of(collection[0], request_)
