"""The JSON API of docs/api.md, called over HTTP on a real server (`python -m qa.cli serve`) on loopback.

`api` talks to a server with the n-gram encoder (tests/fakes.py): shapes, validation, filters, uploads, pages,
whatever the model; `model_api` to one with the real model, for what only the model finds. Each server holds
its own copy of the seeds, and every test leaves it so: a test that adds documents has them
removed when it ends, passed or failed (`forget_added`), so every test holds in any order. (tests/test_milvus_api.py
runs these same tests against a server over Milvus.) Settings a server cannot be started with cheaply (a public host,
a tiny upload limit, no collection) are tested on `create_app(settings)` under FastAPI's TestClient.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

QUESTION = "招商引资进度为什么落后"
ANSWER = "招商引資進度全市排名最后"  # seed 002, Traditional script, in the passage that answers QUESTION
SEED_002 = "002_efcfb80e12f1a49d.txt"
LOOPBACK = "http://127.0.0.1"  # TestClient's own "testserver" is a host name the server does not answer to

RESULT_KEYS = {"query", "mode", "took_ms", "results"}
HIT_KEYS = {"rank", "score", "chunk_id", "doc_id", "text", "highlights", "citation", "duplicates"}
CITATION_KEYS = {"title", "date", "speaker", "place", "source", "section", "char_start", "char_end", "url"}
SUMMARY_KEYS = {"doc_id", "title", "date", "date_kind", "speaker", "place", "source", "sources", "script", "n_chunks"}
DETAIL_KEYS = SUMMARY_KEYS | {"content_hash", "text", "chunks"}


# -- helpers -------------------------------------------------------------------------
def error_of(response: httpx.Response, status: int, code: str) -> str:
    """Assert the one error shape of docs/api.md and return its message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"]
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == code
    message = body["error"]["message"]
    assert isinstance(message, str) and len(message) > 10
    assert "Traceback" not in response.text and 'File "' not in response.text
    return message


def check_results(body: dict, *, query: str, mode: str) -> list[dict]:
    """Assert the search response shape of docs/api.md; return its results."""
    assert RESULT_KEYS <= set(body) <= RESULT_KEYS | {"source", "facets", "applied_filters", "preferences"}  # facets: searches (tests/test_facets.py)
    assert body["query"] == query.strip()
    assert body["mode"] == mode
    assert isinstance(body["took_ms"], float | int) and body["took_ms"] >= 0
    results = body["results"]
    scores = [hit["score"] for hit in results]
    assert scores == sorted(scores, reverse=True)
    for rank, hit in enumerate(results, start=1):
        assert set(hit) in (HIT_KEYS, HIT_KEYS | {"query_highlights"})
        assert hit["rank"] == rank
        assert isinstance(hit["score"], float)
        assert hit["chunk_id"].startswith("c-") and hit["doc_id"].startswith("d-")
        text = hit["text"]
        assert 0 < len(text) <= 700  # one passage, "at most about 600 characters"
        for start, end in hit["highlights"]:
            assert 0 <= start < end <= len(text)
        citation = hit["citation"]
        assert set(citation) == CITATION_KEYS
        assert citation["url"] == f"/doc/{hit['doc_id']}#{hit['chunk_id']}"
        assert citation["char_end"] - citation["char_start"] == len(text)
        for key in ("title", "date", "speaker", "place", "section"):
            assert citation[key] is None or (isinstance(citation[key], str) and citation[key])
    return results


def file_name(source: str) -> str:
    return source.replace("\\", "/").rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def api(fake_server):
    with httpx.Client(base_url=fake_server.url, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def model_api(server):
    with httpx.Client(base_url=server.url, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def seed_ids(api) -> dict[str, str]:
    """Seed file name -> doc_id."""
    body = api.get("/api/documents").json()
    return {file_name(d["source"]): d["doc_id"] for d in body["documents"]}


@pytest.fixture(scope="module")
def doc_text(api):
    cache: dict[str, str] = {}

    def get(doc_id: str) -> str:
        if doc_id not in cache:
            cache[doc_id] = api.get(f"/api/documents/{doc_id}").json()["text"]
        return cache[doc_id]

    return get


# -- health and schema -----------------------------------------------------------------
def test_healthz_reports_the_collection(model_api):
    response = model_api.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "documents", "chunks", "model", "index", "index_recall_at_10"}
    assert body["status"] == "ok"
    assert body["documents"] == 5
    total_chunks = sum(d["n_chunks"] for d in model_api.get("/api/documents").json()["documents"])
    assert body["chunks"] == total_chunks > 5
    assert body["model"] == "intfloat/multilingual-e5-small"
    assert isinstance(body["index"], str) and body["index"]


def test_openapi_lists_the_api(api):
    response = api.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths["/api/search"]) == {"get", "post"}
    assert "post" in paths["/api/similar"]
    assert set(paths["/api/documents"]) == {"get", "post"}
    assert set(paths["/api/documents/{doc_id}"]) == {"get", "delete"}
    assert "get" in paths["/healthz"]
    search_params = {p["name"] for p in paths["/api/search"]["get"]["parameters"]}
    assert {"q", "k", "mode", "doc", "date_from", "date_to"} <= search_params
    assert api.get("/docs").status_code == 200


# -- search ---------------------------------------------------------------------------
def test_search_finds_the_answer_with_an_exact_citation(model_api, seed_ids, doc_text):
    response = model_api.get("/api/search", params={"q": QUESTION})
    assert response.status_code == 200
    results = check_results(response.json(), query=QUESTION, mode="hybrid")
    assert len(results) == 10  # default k
    answering = [hit for hit in results[:3] if ANSWER in hit["text"]]
    assert answering, [hit["text"][:40] for hit in results[:3]]
    hit = answering[0]
    assert hit["doc_id"] == seed_ids[SEED_002]
    assert file_name(hit["citation"]["source"]) == SEED_002
    assert hit["citation"]["title"] == "在縣委工作會上的發言稿"
    # the highlighted sentence is the one that answers
    assert any(ANSWER in hit["text"][start:end] for start, end in hit["highlights"])
    # every passage is exactly where its citation says
    for one in results:
        text = doc_text(one["doc_id"])
        assert text[one["citation"]["char_start"] : one["citation"]["char_end"]] == one["text"]


def test_post_search_answers_like_get(api):
    by_get = api.get("/api/search", params={"q": QUESTION, "k": 5, "mode": "lexical"}).json()
    response = api.post("/api/search", json={"q": QUESTION, "k": 5, "mode": "lexical"})
    assert response.status_code == 200
    by_post = check_results(response.json(), query=QUESTION, mode="lexical")
    assert [h["chunk_id"] for h in by_post] == [h["chunk_id"] for h in by_get["results"]]
    assert len(by_post) == 5


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_every_mode_answers(model_api, mode):
    response = model_api.get("/api/search", params={"q": QUESTION, "k": 5, "mode": mode})
    assert response.status_code == 200
    results = check_results(response.json(), query=QUESTION, mode=mode)
    assert len(results) == 5
    if mode != "dense":  # the small dense model alone ranks it lower; the lexical side finds it
        assert any(ANSWER in hit["text"] for hit in results[:3])


def test_doc_filter_restricts_to_the_given_documents(api, seed_ids):
    one, two = seed_ids["000_d509771d086070bc.txt"], seed_ids["001_eacabc2e24b6d2f8.txt"]
    only_one = api.get("/api/search", params={"q": QUESTION, "k": 30, "doc": one}).json()["results"]
    assert only_one and {hit["doc_id"] for hit in only_one} == {one}
    both = api.get("/api/search", params=[("q", QUESTION), ("k", 30), ("doc", one), ("doc", two)]).json()["results"]
    assert {hit["doc_id"] for hit in both} == {one, two}
    posted = api.post("/api/search", json={"q": QUESTION, "k": 30, "doc": [one]}).json()["results"]
    assert [h["chunk_id"] for h in posted] == [h["chunk_id"] for h in only_one]


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        ({"date_from": "2022-06-01"}, {"2022-09-18", "2023-05-11"}),
        ({"date_to": "2022-06-01"}, {"2022-01-27"}),
        ({"date_from": "2022-01-27", "date_to": "2022-01-27"}, {"2022-01-27"}),  # inclusive at both ends
        ({"date_from": "2022-09-18", "date_to": "2023-05-11"}, {"2022-09-18", "2023-05-11"}),
        ({"date_from": "2024-01-01"}, set()),
    ],
)
def test_date_filters_use_the_speech_date(api, dates, expected):
    results = api.get("/api/search", params={"q": QUESTION, "k": 100, **dates}).json()["results"]
    assert {hit["citation"]["date"] for hit in results} == expected  # undated speeches are left out


def test_a_pasted_paragraph_of_1500_characters_is_a_query(api, seed_ids, doc_text):
    source = seed_ids["000_d509771d086070bc.txt"]
    paragraph = doc_text(source)[200:1700]
    assert len(paragraph) == 1500
    response = api.post("/api/search", json={"q": paragraph, "k": 5})
    assert response.status_code == 200
    results = check_results(response.json(), query=paragraph, mode="hybrid")
    assert results[0]["doc_id"] == source


# -- bad input ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "status", "code", "says"),
    [
        ({"q": ""}, 400, "bad_input", "empty"),
        ({"q": "   "}, 400, "bad_input", "empty"),
        ({}, 422, "invalid_request", "q: Field required"),  # required, as the OpenAPI description says
        ({"q": "a" * 2001}, 400, "bad_input", "at most 2000"),
        ({"q": QUESTION, "k": 0}, 400, "bad_input", "between 1 and 100"),
        ({"q": QUESTION, "k": 101}, 400, "bad_input", "between 1 and 100"),
        ({"q": QUESTION, "k": "ten"}, 422, "invalid_request", "k:"),
        ({"q": QUESTION, "mode": "fuzzy"}, 400, "bad_input", "hybrid, dense, lexical"),
        ({"q": QUESTION, "date_from": "2022-13-01"}, 400, "bad_input", "ISO date"),
        ({"q": QUESTION, "date_to": "yesterday"}, 400, "bad_input", "ISO date"),
        ({"q": QUESTION, "date_from": "2023-01-01", "date_to": "2022-01-01"}, 400, "bad_input", "swap"),
    ],
)
def test_search_rejects_bad_input(api, params, status, code, says):
    assert says in error_of(api.get("/api/search", params=params), status, code)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"q": "字" * 2001}, 400, "bad_input"),
        ({"q": QUESTION, "k": 101}, 400, "bad_input"),
        ({"q": QUESTION, "date_from": "June"}, 400, "bad_input"),
        ({"k": 3}, 422, "invalid_request"),
        ({"q": 5}, 422, "invalid_request"),
    ],
)
def test_post_search_rejects_bad_input(api, body, status, code):
    error_of(api.post("/api/search", json=body), status, code)


def test_malformed_json_is_a_422_that_says_so(api):
    response = api.post("/api/search", content=b"{not json", headers={"content-type": "application/json"})
    assert "not valid JSON" in error_of(response, 422, "invalid_request")


def test_an_unpaired_surrogate_in_the_query_is_dropped(api):
    response = api.post("/api/search", content=rb'{"q": "\ud800 industry"}', headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["query"] == "industry"


def test_unknown_things_are_404_json(api):
    assert "/api/nothing-here" in error_of(api.get("/api/nothing-here"), 404, "not_found")
    assert "d-0000000000000000" in error_of(api.get("/api/documents/d-0000000000000000"), 404, "not_found")
    assert "c-0000000000000000" in error_of(api.post("/api/similar", json={"chunk_id": "c-0000000000000000"}), 404, "not_found")
    error_of(api.delete("/api/documents/d-0000000000000000"), 404, "not_found")
    error_of(api.put("/api/search"), 405, "method_not_allowed")


def test_pages_answer_errors_with_html(api):
    response = api.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "找不到 Not found" in response.text
    response = api.get("/doc/d-0000000000000000")
    assert response.status_code == 404 and "d-0000000000000000" in response.text
    # bad input on a page with a form is shown next to that form, filled in as sent, so it can be fixed in place
    response = api.get("/search", params={"q": QUESTION, "k": 0})
    assert response.status_code == 400 and "between 1 and 100" in response.text and 'value="招商引资进度为什么落后"' in response.text
    similar = api.get("/similar", params={"text": "工业强县", "k": 0})
    assert similar.status_code == 400 and "between 1 and 100" in similar.text and ">工业强县</textarea>" in similar.text
    phrase = api.get("/phrase", params={"q": "招商引资", "granularity": "week"})
    assert phrase.status_code == 400 and "granularity must be one of auto, month, year, not &#39;week&#39;" in phrase.text
    assert 'name="q" type="search" value="招商引资"' in phrase.text
    assert api.get("/search").status_code == 200 and 'id="q"' in api.get("/search").text  # no question yet: the form


# -- similar passages ---------------------------------------------------------------------
def test_similar_to_a_stored_passage_leaves_out_its_own_speech(model_api, seed_ids):
    source = model_api.get("/api/search", params={"q": QUESTION, "k": 1}).json()["results"][0]
    response = model_api.post("/api/similar", json={"chunk_id": source["chunk_id"], "k": 5})
    assert response.status_code == 200
    body = response.json()
    assert body["source"] == {"chunk_id": source["chunk_id"], "doc_id": source["doc_id"], "text": source["text"]}
    results = check_results(body, query=source["text"], mode="hybrid")
    assert len(results) == 5
    assert source["doc_id"] not in {hit["doc_id"] for hit in results}
    for hit in results:  # shared wording: spans into the source text and into the passage
        assert set(hit) == HIT_KEYS | {"query_highlights"}
        for start, end in hit["query_highlights"]:
            assert 0 <= start < end <= len(source["text"])
    assert results[0]["highlights"] and results[0]["query_highlights"]


def test_similar_to_pasted_text_with_exclude_doc(api, seed_ids, doc_text):
    doc_id = seed_ids[SEED_002]
    text = doc_text(doc_id)[100:400]
    everywhere = check_results(api.post("/api/similar", json={"text": text, "k": 5}).json(), query=text, mode="hybrid")
    assert everywhere[0]["doc_id"] == doc_id  # the text's own speech is the best match...
    excluded = api.post("/api/similar", json={"text": text, "k": 5, "exclude_doc": doc_id}).json()
    assert "source" not in excluded
    results = check_results(excluded, query=text, mode="hybrid")
    assert len(results) == 5 and doc_id not in {hit["doc_id"] for hit in results}  # ...until it is left out


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [({}, 400, "bad_input"), ({"text": "  "}, 400, "bad_input"), ({"text": "工业", "k": 0}, 400, "bad_input"),
     ({"text": "字" * 2001}, 400, "bad_input"), ({"text": "工业", "k": "many"}, 422, "invalid_request")],
)
def test_similar_rejects_bad_input(api, body, status, code):
    error_of(api.post("/api/similar", json=body), status, code)


# -- documents ---------------------------------------------------------------------------
def test_documents_list_and_pages(api):
    body = api.get("/api/documents").json()
    assert set(body) == {"documents", "total", "offset", "limit"}
    assert body["total"] == 5 and len(body["documents"]) == 5
    for document in body["documents"]:
        assert set(document) == SUMMARY_KEYS
        assert document["n_chunks"] > 0
        assert document["source"] == document["sources"][0]
    all_ids = [d["doc_id"] for d in body["documents"]]
    pages = [api.get("/api/documents", params={"offset": offset, "limit": 2}).json() for offset in (0, 2, 4)]
    assert [len(p["documents"]) for p in pages] == [2, 2, 1]
    assert [d["doc_id"] for p in pages for d in p["documents"]] == all_ids
    assert all(p["total"] == 5 for p in pages)
    assert api.get("/api/documents", params={"offset": 5}).json()["documents"] == []
    error_of(api.get("/api/documents", params={"limit": 0}), 400, "bad_input")
    error_of(api.get("/api/documents", params={"offset": -1}), 400, "bad_input")


def test_document_detail_has_text_and_passage_offsets(api, seed_ids):
    doc_id = seed_ids[SEED_002]
    body = api.get(f"/api/documents/{doc_id}").json()
    assert set(body) == DETAIL_KEYS
    assert body["doc_id"] == doc_id and body["title"] == "在縣委工作會上的發言稿"
    text, chunks = body["text"], body["chunks"]
    assert ANSWER in text
    assert body["n_chunks"] == len(chunks) > 1
    assert len({c["chunk_id"] for c in chunks}) == len(chunks)
    for chunk in chunks:
        assert set(chunk) == {"chunk_id", "char_start", "char_end", "section"}
        assert 0 <= chunk["char_start"] < chunk["char_end"] <= len(text)
    assert chunks[0]["char_start"] == 0
    assert [c["char_start"] for c in chunks] == sorted(c["char_start"] for c in chunks)
    # a search hit in this document is one of these passages
    hit = api.get("/api/search", params={"q": QUESTION, "k": 1, "doc": doc_id}).json()["results"][0]
    assert {"chunk_id": hit["chunk_id"], "char_start": hit["citation"]["char_start"],
            "char_end": hit["citation"]["char_end"], "section": hit["citation"]["section"]} in chunks


# -- pages over the same server (the browser tests look at them; these check the HTML) ----
def test_pages_render_results_documents_and_similar(api, seed_ids):
    search = api.get("/search", params={"q": QUESTION})
    assert search.status_code == 200 and search.text.count('<article class="hit"') == 10
    assert "<mark>" in search.text and 'class="cite-link" href="/doc/' in search.text
    doc_id = seed_ids[SEED_002]
    chunk = api.get("/api/documents/" + doc_id).json()["chunks"][1]["chunk_id"]
    page = api.get(f"/doc/{doc_id}", params={"chunk": chunk})
    assert page.status_code == 200 and f'id="{chunk}"' in page.text and " cited\"><mark>" in page.text
    similar = api.get("/similar", params={"chunk": chunk})
    assert similar.status_code == 200 and similar.text.count('<section class="pair"') == 10
    documents = api.get("/documents")
    assert documents.status_code == 200 and documents.text.count("<tr>") == 6  # header + 5 speeches
    assert 'enctype="multipart/form-data"' in documents.text and 'name="token"' not in documents.text
    assert "sample_speeches/" not in documents.text  # files are shown by name, never by the server's folders


# -- uploads and deletions (each leaves the collection as it found it) --------------------------
SPEECH_UTF8 = (
    "在全县蓝莓产业发展推进会上的讲话\n"
    "同志们：蓝莓产业园建设是今年农业农村工作的重中之重。一要抓好基地建设，新增连片种植面积三千亩，"
    "配套建设冷链仓储中心；二要抓好品牌营销，办好蓝莓采摘文化节，拓展线上销售渠道；"
    "三要抓好利益联结，让种植户分享加工和销售环节的增值收益。各乡镇要明确专人负责，按月调度进度。\n"
)
SPEECH_GBK = (
    "在茶叶电商直播培训班开班仪式上的讲话\n"
    "各位学员：发展茶叶电商直播，是拓宽我县名优茶销路的重要途径。希望大家认真学习直播选品、脚本策划和售后服务，"
    "把家乡好茶卖向全国。县商务局要做好跟踪服务，对带货成绩突出的主播给予奖励，形成比学赶超的良好氛围。\n"
)


def upload(client: httpx.Client, files: list[tuple[str, bytes]], **kwargs) -> httpx.Response:
    return client.post("/api/documents", files=[("files", (name, data, "text/plain")) for name, data in files], **kwargs)


def forget_added(api: httpx.Client, request: pytest.FixtureRequest) -> None:
    """Remove what the calling test adds to the server's collection once it ends, passed or failed."""
    before = {d["doc_id"] for d in api.get("/api/documents", params={"limit": 500}).json()["documents"]}

    def remove_added() -> None:
        for document in api.get("/api/documents", params={"limit": 500}).json()["documents"]:
            if document["doc_id"] not in before:
                api.delete(f"/api/documents/{document['doc_id']}")

    request.addfinalizer(remove_added)


def test_upload_search_and_delete(api, request, tmp_path):
    forget_added(api, request)
    escape_target = tmp_path / "escaped" / "pwned.txt"
    traversal = f"../../../../../../..{escape_target}"
    assert not Path("/etc/passwd.txt").exists()
    files = [
        ("blueberry.txt", SPEECH_UTF8.encode("utf-8")),
        ("tea-gbk.txt", SPEECH_GBK.encode("gbk")),
        ("empty.txt", b""),
        ("blob.txt", bytes(range(256)) * 8),
        ("scan.png", b"\x89PNG\r\n\x1a\n" + bytes(64)),
        ("../../etc/passwd.txt", "一篇借用危险文件名上传的讲话：推进乡村旅游示范带建设，发展农家乐和民宿经济，带动村民增收致富。".encode()),
        (traversal, "另一篇借用危险路径上传的讲话：推进老旧小区改造，完善停车、养老和托育配套设施，提升居民幸福感。".encode()),
    ]
    response = upload(api, files)
    assert response.status_code == 200, response.text
    report = response.json()
    assert set(report) == {"added", "updated", "duplicates", "rejected"}
    assert len(report["added"]) == 4 and report["updated"] == [] and report["duplicates"] == []
    rejected = {r["source"]: r["reason"] for r in report["rejected"]}
    assert set(rejected) == {"empty.txt", "blob.txt", "scan.png"}
    assert rejected["empty.txt"].startswith("empty file")
    assert "binary" in rejected["blob.txt"]
    assert "unsupported file type ('.png')" in rejected["scan.png"]
    # the request named nothing on disk; the uploads are cited by their base names
    assert not Path("/etc/passwd.txt").exists() and not escape_target.exists()
    added = {api.get(f"/api/documents/{d}").json()["source"]: d for d in report["added"]}
    assert set(added) == {"blueberry.txt", "tea-gbk.txt", "passwd.txt", "pwned.txt"}
    tea = api.get(f"/api/documents/{added['tea-gbk.txt']}").json()
    assert tea["title"] == "在茶叶电商直播培训班开班仪式上的讲话" and "把家乡好茶卖向全国" in tea["text"]  # GBK decoded

    again = upload(api, files[:2]).json()
    assert again == {"added": [], "updated": [], "duplicates": ["blueberry.txt", "tea-gbk.txt"], "rejected": []}

    hits = api.get("/api/search", params={"q": "蓝莓产业园怎么建设", "k": 3}).json()["results"]
    assert hits[0]["doc_id"] == added["blueberry.txt"]
    assert hits[0]["citation"]["source"] == "blueberry.txt"
    assert api.get("/healthz").json()["documents"] == 9

    for doc_id in added.values():
        assert api.delete(f"/api/documents/{doc_id}").json() == {"deleted": doc_id}
        error_of(api.get(f"/api/documents/{doc_id}"), 404, "not_found")
    error_of(api.delete(f"/api/documents/{added['blueberry.txt']}"), 404, "not_found")
    hits = api.get("/api/search", params={"q": "蓝莓产业园怎么建设", "k": 20}).json()["results"]
    assert not set(added.values()) & {hit["doc_id"] for hit in hits}
    assert api.get("/healthz").json()["documents"] == 5


def test_upload_needs_files(api):
    error_of(api.post("/api/documents", data={"x": "1"}), 422, "invalid_request")


# -- a server with a token ---------------------------------------------------------------------------
def test_token_server_guards_changes_only(fake_token_server):
    with httpx.Client(base_url=fake_token_server.url, timeout=120) as client:
        assert client.get("/api/search", params={"q": QUESTION, "k": 1}).status_code == 200
        files = [("token.txt", SPEECH_UTF8.encode())]
        assert "Authorization: Bearer" in error_of(upload(client, files), 401, "unauthorized")
        assert "token is wrong" in error_of(upload(client, files, headers={"Authorization": "Bearer nope"}), 403, "forbidden")
        error_of(upload(client, files, headers={"Authorization": "Basic secret"}), 403, "forbidden")
        good = {"Authorization": "Bearer secret"}
        response = upload(client, files, headers=good)
        assert response.status_code == 200 and len(response.json()["added"]) == 1
        doc_id = response.json()["added"][0]
        error_of(client.delete(f"/api/documents/{doc_id}"), 401, "unauthorized")
        error_of(client.delete(f"/api/documents/{doc_id}", headers={"Authorization": "Bearer secre"}), 403, "forbidden")
        assert client.delete(f"/api/documents/{doc_id}", headers=good).json() == {"deleted": doc_id}
        # the page asks for the token and refuses a wrong one with an HTML page
        assert 'name="token"' in client.get("/documents").text
        page = client.post("/documents", files=[("files", ("t.txt", SPEECH_GBK.encode(), "text/plain"))], data={"token": "nope"})
        assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")


# -- settings no test server is started with -----------------------------------------------------------
@pytest.fixture(scope="module")
def app_factory(settings_factory, fake_seed_service_copy, tmp_path_factory):
    from fastapi.testclient import TestClient

    from web.app import create_app

    def make(service=fake_seed_service_copy, **overrides) -> TestClient:
        settings = settings_factory(tmp_path_factory.mktemp("app"), **overrides)
        return TestClient(create_app(settings, service=service), base_url=LOOPBACK, raise_server_exceptions=False)

    return make


def test_public_address_without_token_refuses_changes(app_factory):
    client = app_factory(host="0.0.0.0", token=None)
    assert client.get("/api/search", params={"q": QUESTION, "k": 1}).status_code == 200
    message = error_of(upload(client, [("x.txt", SPEECH_UTF8.encode())]), 403, "forbidden")
    assert "SPEECHQA_TOKEN" in message
    error_of(client.delete("/api/documents/d-0000000000000000"), 403, "forbidden")
    assert 'enctype="multipart/form-data"' not in client.get("/documents").text
    assert client.get("/healthz").json()["documents"] == 5  # nothing was added


def test_upload_over_the_limit_is_413(app_factory):
    client = app_factory(max_upload_bytes=1000)
    message = error_of(upload(client, [("big.txt", ("很长的讲话。" * 200).encode())]), 413, "too_large")
    assert "1,000 bytes" in message
    page = client.post("/documents", files=[("files", ("big.txt", b"x" * 2000, "text/plain"))])
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    assert client.get("/healthz").json()["documents"] == 5


def test_no_collection_yet_is_503_naming_the_command(settings_factory, tmp_path):
    from fastapi.testclient import TestClient

    from web.app import create_app

    empty = tmp_path / "nothing-here"
    with TestClient(create_app(settings_factory(empty)), base_url=LOOPBACK, raise_server_exceptions=False) as client:
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "not_ready" and health.json()["error"]["code"] == "index_not_built"
        assert "speechqa ingest" in error_of(client.get("/api/search", params={"q": QUESTION}), 503, "index_not_built")
        home = client.get("/")
        assert home.status_code == 503 and "speechqa ingest" in home.text


def test_an_unexpected_failure_is_a_500_without_a_stack_trace(settings_factory, tmp_path):
    from fastapi.testclient import TestClient

    from web.app import create_app

    app = create_app(settings_factory(tmp_path / "unused"))

    def broken():
        raise RuntimeError(f"secret internals {uuid.uuid4()}")

    app.add_api_route("/api/broken", broken)
    app.add_api_route("/broken", broken)
    client = TestClient(app, base_url=LOOPBACK, raise_server_exceptions=False)
    response = client.get("/api/broken")
    assert "secret internals" not in error_of(response, 500, "internal")
    page = client.get("/broken")
    assert page.status_code == 500 and "secret internals" not in page.text and "Traceback" not in page.text


def test_what_the_question_names_is_reported_and_can_be_turned_off(fake_server):
    query = "2023年工业经济工作怎么抓"
    favoured = httpx.get(fake_server.url + "/api/search", params={"q": query, "k": 5}).json()
    assert favoured["preferences"] == {"dates": ["2023"], "applied": True}
    plain = httpx.post(fake_server.url + "/api/search", json={"q": query, "k": 5, "prefer": False}).json()
    assert plain["preferences"] == {"dates": ["2023"], "applied": False}
    assert "preferences" not in httpx.get(fake_server.url + "/api/search", params={"q": "工业强县"}).json()
    page = httpx.get(fake_server.url + "/search", params={"q": query}).text
    assert 'data-applied="true"' in page and "prefer=false" in page
    off = httpx.get(fake_server.url + "/search", params={"q": query, "prefer": "false"}).text
    assert 'data-applied="false"' in off and 'name="prefer" value="false"' in off


def test_applied_filters_list_what_the_question_reading_applied_and_each_can_be_switched_off(fake_server):
    query = "2023年工业经济工作怎么抓"
    favoured = httpx.get(fake_server.url + "/api/search", params={"q": query, "k": 5}).json()
    assert favoured["applied_filters"] == [{"kind": "date", "value": "2023", "source": "query"}]
    for off in (httpx.get(fake_server.url + "/api/search", params={"q": query, "k": 5, "ignore_filter": "date:2023"}).json(),
                httpx.post(fake_server.url + "/api/search", json={"q": query, "k": 5, "ignore_filter": ["date:2023"]}).json(),
                httpx.post(fake_server.url + "/api/search", json={"q": query, "k": 5, "prefer": False}).json()):
        assert off["applied_filters"] == [] and off["preferences"] == {"dates": ["2023"], "applied": False}
    assert httpx.get(fake_server.url + "/api/search", params={"q": "工业强县"}).json()["applied_filters"] == []
    assert "date:2024" in error_of(httpx.get(fake_server.url + "/api/search", params={"q": query, "ignore_filter": "2023"}),
                                   400, "bad_input")
    similar = httpx.post(fake_server.url + "/api/similar", json={"text": query, "k": 3}).json()
    assert similar["applied_filters"] == [{"kind": "date", "value": "2023", "source": "query"}]
    assert httpx.post(fake_server.url + "/api/similar", json={"text": query, "k": 3, "prefer": False}).json()["applied_filters"] == []
    # The page: each named date is a chip with a link that switches it off, and then one that switches it back on.
    page = httpx.get(fake_server.url + "/search", params={"q": query}).text
    assert 'class="remove remove-filter"' in page and "ignore_filter=date%3A2023" in page
    off_page = httpx.get(fake_server.url + "/search", params={"q": query, "ignore_filter": "date:2023"}).text
    assert 'data-applied="false"' in off_page and 'class="restore-filter"' in off_page
    assert 'name="ignore_filter" value="date:2023"' in off_page


def test_an_english_question_lists_its_chinese_rendering_and_the_page_shows_it_switchable_off(fake_server):
    query = "How is the county attracting investment?"
    answer = httpx.get(fake_server.url + "/api/search", params={"q": query, "k": 3}).json()
    readings = [item for item in answer["applied_filters"] if item["kind"] == "reading"]
    assert len(readings) == 1 and "投资" in readings[0]["value"], answer["applied_filters"]
    assert answer["preferences"]["readings"] == [readings[0]["value"]] and answer["preferences"]["applied"] is False
    switch = f"reading:{readings[0]['value']}"
    off = httpx.get(fake_server.url + "/api/search", params={"q": query, "k": 3, "ignore_filter": switch}).json()
    assert [item for item in off["applied_filters"] if item["kind"] == "reading"] == []
    assert httpx.get(fake_server.url + "/api/search", params={"q": query, "mode": "dense"}).json()["applied_filters"] == []
    page = httpx.get(fake_server.url + "/search", params={"q": query}).text
    assert 'data-kind="readings" data-applied="true">读作 read in Chinese as: ' in page
    assert "ignore_filter=reading%3A" in page


def test_a_search_hands_only_the_search_itself_to_a_worker_thread():
    """Its dependencies run on the event loop: each plain function would be one more hop to a worker thread,
    and one more wait for the interpreter lock behind the searches running."""
    import inspect

    from fastapi.routing import APIRoute

    from web.api import api

    def calls(dependant):
        for dependency in dependant.dependencies:
            yield dependency.call
            yield from calls(dependency)

    searches = [route for route in api.routes if isinstance(route, APIRoute) and route.path == "/api/search"]
    assert searches and all(inspect.iscoroutinefunction(call) for route in searches for call in calls(route.dependant))


def test_the_service_holder_says_whether_the_service_is_open_without_opening_it(tmp_path):
    from qa.app import ServiceHolder
    from qa.settings import Settings

    holder = ServiceHolder(Settings.from_env({}, data_dir=tmp_path, cache_dir=tmp_path))
    assert holder.opened() is None and not any(tmp_path.iterdir())
