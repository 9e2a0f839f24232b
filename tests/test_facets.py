"""Facets on search results (qa/search/facets.py): counted over the candidates, in the API, and as filters that narrow a search."""

from __future__ import annotations

import httpx
import pytest

from qa.citations import source_group
from qa.search.facets import count_facets
from qa.types import Document, Metadata

QUESTION = "招商引资进度为什么落后"


def test_source_groups_name_the_site_or_the_file():
    assert source_group("https://tv.cctv.com/2012/07/02/VIDE1355098166246193.shtml") == "tv.cctv.com"
    assert source_group("002_efcfb80e12f1a49d.txt") == "002_efcfb80e12f1a49d.txt"
    assert source_group("news.jsonl.gz#12") == "news.jsonl.gz"
    assert source_group(None) is None


def test_counts_are_per_passage_most_frequent_first_and_skip_unknowns():
    def doc(date, speaker, source):
        return Document("d", "", "h", Metadata(date=date, speaker=speaker), "zh-Hans", (source,) if source else ())

    facets = count_facets([doc("2021-03-01", "甲", "a.txt"), doc("2022-01-01", None, "a.txt"),
                           doc("2022-05-05", "乙", None), doc(None, "乙", "b.txt")])
    assert facets.as_dict() == {
        "year": [{"value": "2022", "count": 2}, {"value": "2021", "count": 1}],
        "speaker": [{"value": "乙", "count": 2}, {"value": "甲", "count": 1}],
        "source": [{"value": "a.txt", "count": 2}, {"value": "b.txt", "count": 1}],
    }


@pytest.fixture(scope="module")
def api(fake_server):
    with httpx.Client(base_url=fake_server.url, timeout=120) as client:
        yield client


def test_search_responses_carry_facets_over_more_than_the_top_k(api):
    body = api.get("/api/search", params={"q": QUESTION, "k": 3}).json()
    facets = body["facets"]
    assert set(facets) == {"year", "speaker", "source"}
    sources = facets["source"]
    assert [s["count"] for s in sources] == sorted((s["count"] for s in sources), reverse=True)
    assert sum(s["count"] for s in sources) > 3  # the candidates, not the three shown
    assert len(sources) == 5  # every seed speech has candidate passages for this question
    assert {hit["citation"]["source"] for hit in body["results"]} <= {s["value"] for s in sources}


def test_a_facet_value_is_a_filter(api):
    facets = api.get("/api/search", params={"q": QUESTION}).json()["facets"]
    source = facets["source"][-1]["value"]
    narrowed = api.get("/api/search", params={"q": QUESTION, "source": source}).json()
    assert narrowed["results"] and {hit["citation"]["source"] for hit in narrowed["results"]} == {source}
    assert [s["value"] for s in narrowed["facets"]["source"]] == [source]
    year = facets["year"][0]["value"]
    by_year = api.get("/api/search", params={"q": QUESTION, "date_from": f"{year}-01-01", "date_to": f"{year}-12-31"}).json()
    assert by_year["results"] and all(hit["citation"]["date"].startswith(year) for hit in by_year["results"])
    assert [y["value"] for y in by_year["facets"]["year"]] == [year]
    nowhere = api.get("/api/search", params={"q": QUESTION, "source": "no-such-file.txt"}).json()
    assert nowhere["results"] == [] and nowhere["facets"] == {"year": [], "speaker": [], "source": []}


def test_the_page_links_facets_and_shows_the_active_filter(api):
    page = api.get("/search", params={"q": QUESTION}).text
    assert 'class="facet-value"' in page and 'class="chip"' not in page
    filtered = api.get("/search", params={"q": QUESTION, "date_from": "2022-01-01", "date_to": "2022-12-31"}).text
    assert '<span class="chip" data-kind="year">2022' in filtered
    assert 'href="/search?q=%E6%8B%9B' in filtered  # the chip's removal link keeps the query
