"""qa/serialize.py: the one definition of each JSON shape, its field order, what it leaves out, and its bytes."""

from __future__ import annotations

import json

import pytest

from qa.search.facets import Facets, FacetValue
from qa.search.phrase import PeriodCount, PhraseTimeline, UsageCount
from qa.search.service import SearchResult
from qa.serialize import ErrorBody, Health, SearchResponse
from qa.serialize import PhraseTimeline as TimelineShape
from qa.types import DocumentSummary, Hit, Metadata, Passage

DOCUMENT = DocumentSummary("d-1", "h", Metadata("在縣委工作會上的發言稿", "2022-06-10", "speech", None, None), "zh-Hant",
                           ("002.txt",))
PASSAGE = Passage("c-1", "d-1", 0, "招商引資進度全市排名最后。", 10, 23, "一、準確研判形勢")
HIT = Hit(1, 0.8312, PASSAGE, DOCUMENT, ((0, 6),), 2)
HIT_KEYS = ["rank", "score", "chunk_id", "doc_id", "text", "highlights", "duplicates", "citation"]
CITATION = {"title": "在縣委工作會上的發言稿", "date": "2022-06-10", "speaker": None, "place": None, "source": "002.txt",
            "section": "一、準確研判形勢", "char_start": 10, "char_end": 23, "url": "/doc/d-1#c-1"}


def as_the_api_wrote_it(data: dict) -> bytes:
    """What the routes sent before the shapes wrote themselves: Starlette's JSONResponse rendering."""
    return json.dumps(data, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


def test_a_search_response_in_the_order_clients_read_it():
    result = SearchResult("招商引资", "hybrid", 14.2, [HIT], facets=Facets(year=(FacetValue("2022", 3),)),
                          preferences={"dates": ["2022"]}, preferences_applied=True, applied_filters=(("date", "2022"),))
    data = SearchResponse.of(result).data()
    assert list(data) == ["query", "mode", "took_ms", "results", "facets", "preferences", "applied_filters"]
    assert list(data["results"][0]) == HIT_KEYS
    assert data["results"][0]["citation"] == CITATION and data["results"][0]["highlights"] == [[0, 6]]
    assert data["facets"] == {"year": [{"value": "2022", "count": 3}], "speaker": [], "source": []}
    assert data["preferences"] == {"dates": ["2022"], "applied": True}
    assert data["applied_filters"] == [{"kind": "date", "value": "2022", "source": "query"}]


def test_a_similar_response_carries_its_source_and_the_shared_wording():
    result = SearchResult("招商引資", "hybrid", 1.0, [HIT], source=PASSAGE, source_spans={"c-1": [(0, 4)]})
    data = SearchResponse.of(result).data()
    assert list(data) == ["query", "mode", "took_ms", "results", "source", "applied_filters"]
    assert list(data["results"][0]) == [*HIT_KEYS, "query_highlights"] and data["results"][0]["query_highlights"] == [[0, 4]]
    assert data["source"] == {"chunk_id": "c-1", "doc_id": "d-1", "text": PASSAGE.text}


def test_a_timeline_without_occurrences_offers_a_search():
    occurrence = Hit(1, 0.0, PASSAGE, DOCUMENT, ((0, 4),), match=(10, 14))
    timeline = PhraseTimeline("招商引資", "year", 1, 1, 0, occurrence, (PeriodCount("2022", 1, 1),),
                              (), (UsageCount("002.txt", 1, 1),), (occurrence,), 0, 50, 2.0)
    data = TimelineShape.of(timeline).data()
    assert list(data["first"]) == ["rank", "chunk_id", "doc_id", "text", "highlights", "citation", "match"]
    assert data["series"] == [{"period": "2022", "occurrences": 1, "documents": 1, "date_from": "2022-01-01",
                               "date_to": "2022-12-31"}]
    assert "search_url" not in data
    nowhere = TimelineShape.of(PhraseTimeline("工业强县", "year", 0, 0, 0, None, (), (), (), (), 0, 50, 1.0)).data()
    assert nowhere["first"] is None and nowhere["search_url"] == "/search?q=%E5%B7%A5%E4%B8%9A%E5%BC%BA%E5%8E%BF"


def test_health_says_ready_or_why_not():
    stats = {"documents": 5, "chunks": 40, "model": "m", "index": "flat", "index_recall_at_10": None}
    assert Health.ready(stats).data() == {"status": "ok", **stats}
    assert Health.not_ready("index_not_built", "run speechqa ingest").data() == {
        "status": "not_ready", "documents": 0, "chunks": 0, "model": None, "index": None,
        "error": {"code": "index_not_built", "message": "run speechqa ingest"}}


@pytest.mark.parametrize("text", ["plain", 'quote " and \\ backslash', "line\nbreak\ttab\r\x0c\x08", "\x00\x1f\x7f",
                                  "\u2028\u2029", "招商引資 𠀀 😀", "</script>&<>"])
@pytest.mark.parametrize("score", [0.8312, 0.0, -0.0, 0.0001, 1.0, 123456.789])
def test_the_bytes_are_those_the_api_always_sent(text, score):
    passage = Passage("c-1", "d-1", 0, text, 0, len(text))
    shape = SearchResponse.of(SearchResult(text, "hybrid", score, [Hit(1, score, passage, DOCUMENT)]))
    assert shape.json() == as_the_api_wrote_it(shape.data())
    error = ErrorBody.of("bad_input", text)
    assert error.json() == as_the_api_wrote_it({"error": {"code": "bad_input", "message": text}})
