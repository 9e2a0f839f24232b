"""CSV and JSON Lines downloads of searches and phrase timelines (qa/search/export.py), over a real server."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest

from qa.search.export import COLUMNS, MATCH_COLUMNS, spreadsheet_cell

QUESTION = "招商引资进度为什么落后"


@pytest.fixture(scope="module")
def api(fake_server):
    with httpx.Client(base_url=fake_server.url, timeout=120) as client:
        yield client


def rows_of(response: httpx.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")  # a BOM, so spreadsheets read UTF-8
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_search_as_csv_holds_the_results_with_full_citations(api, fake_server):
    params = {"q": QUESTION, "k": 5}
    results = api.get("/api/search", params=params).json()["results"]
    response = api.get("/api/search", params={**params, "format": "csv"})
    assert response.headers["content-disposition"] == 'attachment; filename="speechqa-search.csv"'
    rows = rows_of(response)
    assert list(rows[0]) == list(COLUMNS)
    assert [row["chunk_id"] for row in rows] == [hit["chunk_id"] for hit in results]
    for row, hit in zip(rows, results, strict=True):
        citation = hit["citation"]
        assert row["text"] == hit["text"]  # line breaks and quotes survive the CSV round trip
        assert (int(row["char_start"]), int(row["char_end"])) == (citation["char_start"], citation["char_end"])
        assert row["url"] == fake_server.url + citation["url"]
        assert row["title"] == (citation["title"] or "") and row["date"] == (citation["date"] or "")
        assert int(row["rank"]) == hit["rank"]


def test_search_as_json_lines(api):
    results = api.get("/api/search", params={"q": QUESTION, "k": 3}).json()["results"]
    response = api.get("/api/search", params={"q": QUESTION, "k": 3, "format": "jsonl"})
    assert response.headers["content-type"] == "application/x-ndjson; charset=utf-8"
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [list(line) for line in lines] == [list(COLUMNS)] * 3
    assert [(line["chunk_id"], line["text"], line["speaker"]) for line in lines] == [
        (hit["chunk_id"], hit["text"], hit["citation"]["speaker"]) for hit in results]


def test_phrase_exports_every_occurrence_with_where_the_phrase_is(api):
    timeline = api.get("/api/phrase", params={"q": "招商引资", "limit": 100}).json()
    rows = rows_of(api.get("/api/phrase", params={"q": "招商引资", "format": "csv"}))  # no limit: every one
    assert len(rows) == timeline["total_occurrences"] == 6
    assert list(rows[0]) == list(COLUMNS + MATCH_COLUMNS)
    for row, item in zip(rows, timeline["occurrences"], strict=True):
        assert (row["chunk_id"], int(row["match_start"]), int(row["match_end"])) == (item["chunk_id"], *item["match"])
        a, b = item["highlights"][0]
        assert row["text"][a:b] == "招商引資"


def test_phrase_api_shape(api):
    body = api.get("/api/phrase", params={"q": "招商引資", "limit": 2}).json()
    assert {"phrase", "total_occurrences", "total_documents", "first", "series", "by_speaker", "by_source",
            "occurrences", "offset", "limit", "granularity"} <= set(body)
    assert (body["total_occurrences"], body["total_documents"], body["offset"], body["limit"]) == (6, 3, 0, 2)
    assert len(body["occurrences"]) == 2
    assert sum(p["occurrences"] for p in body["series"]) + body["undated_occurrences"] == 6
    assert body["first"]["citation"]["url"] == f"/doc/{body['first']['doc_id']}#{body['first']['chunk_id']}"
    none = api.get("/api/phrase", params={"q": "新质生产力"}).json()
    assert (none["total_occurrences"], none["first"], none["search_url"]) == (0, None, "/search?q=%E6%96%B0%E8%B4%A8%E7%94%9F%E4%BA%A7%E5%8A%9B")


@pytest.mark.parametrize(("params", "message"), [
    ({"q": QUESTION, "format": "xlsx"}, "format must be csv or jsonl"),
    ({"q": ""}, "the phrase is empty"),
    ({"q": "工业", "granularity": "week"}, "granularity must be one of auto, month, year"),
])
def test_bad_requests_are_400_with_a_message(api, params, message):
    path = "/api/search" if params.get("format") == "xlsx" else "/api/phrase"
    response = api.get(path, params=params)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "+1", "-2", "@SUM(A1)", "\t=1", "\r=1"])
def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_written_as_text(text):
    assert spreadsheet_cell(text) == "'" + text


def test_other_cells_are_written_as_they_are():
    assert spreadsheet_cell("招商引资进度为什么落后") == "招商引资进度为什么落后"
    assert spreadsheet_cell("a=b") == "a=b" and spreadsheet_cell(12) == 12 and spreadsheet_cell(None) == ""
