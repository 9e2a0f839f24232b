"""The reuse pages in a real headless chromium: the chart's bars, both sides marked, the link from a search result.

The server runs in this process over a collection with planted reuse, embedded by the character n-gram encoder, so no
model is needed. Screenshots go to test-output/screenshots/ (git-ignored), as tests/test_browser.py's do.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from reuse_helpers import as_raw, planted_documents

from embeddings.char_ngrams import CharNgramEncoder
from qa.text.fingerprints import reuse_codes

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

pytestmark = pytest.mark.browser

LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).parents[1] / "test-output" / "screenshots"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import uvicorn

    from qa.index.collection import Collection
    from qa.ingest.pipeline import Ingester
    from qa.search.service import SearchService
    from qa.settings import Settings
    from web.app import create_app

    directory = tmp_path_factory.mktemp("reuse-browser") / "data"
    encoder = CharNgramEncoder()
    collection = Collection.open(directory, encoder.name, create=True)
    documents, plants = planted_documents()
    Ingester(collection, encoder).add_records([as_raw(d) for d in documents])
    settings = Settings.from_env({}, data_dir=directory, cache_dir=directory.parent / "cache")
    config = uvicorn.Config(create_app(settings, service=SearchService(collection, encoder)), host="127.0.0.1", port=0,
                            log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    port = running.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", plants
    running.should_exit = True
    thread.join(10)
    collection.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(60_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_a_search_result_leads_to_its_reuse_side_by_side(server, page):
    url, plants = server
    plant = plants[0]
    expect = sync_api.expect
    page.goto(url + "/")
    page.fill("#q", plant.text[:60])
    page.press("#q", "Enter")
    page.wait_for_url("**/search?**")
    link = page.locator("article.hit a.reuse-link").first
    expect(link).to_be_visible()
    chunk_id = link.locator("xpath=ancestor::article").get_attribute("data-chunk")
    screenshot(page, "reuse-1-search-link")
    link.click()
    page.wait_for_url(f"**/reuse?chunk_id={chunk_id}")

    answer = httpx.get(url + "/api/reuse", params={"chunk_id": chunk_id}, timeout=60).json()
    drawn = [p for p in answer["series"] if p["documents"]]
    bars = page.locator("svg.timeline-chart a.bar")
    expect(bars).to_have_count(len(drawn))
    assert [bars.nth(i).get_attribute("data-period") for i in range(len(drawn))] == [p["period"] for p in drawn]
    pairs = page.locator("section.pair.reuse")
    expect(pairs).to_have_count(len(answer["reuses"]))
    same_wording = 0
    for i, reuse in enumerate(answer["reuses"]):
        pair = pairs.nth(i)
        assert pair.get_attribute("data-doc") == reuse["doc_id"]
        source_marks = pair.locator(".source-side mark").all_text_contents()
        reuse_marks = pair.locator(".hit-side mark").all_text_contents()
        # Each side marks the spans the API gives for it, and nothing else.
        assert source_marks == [answer["source"]["text"][a:b] for a, b in reuse["source_spans"]]
        assert reuse_marks == [reuse["text"][a:b] for a, b in reuse["spans"]] and reuse_marks
        # Where the passage holds every run, both sides mark the same wording (script, width and punctuation aside).
        if len(reuse["spans"]) == len(reuse["source_spans"]):
            assert reuse_codes("".join(source_marks)).tolist() == reuse_codes("".join(reuse_marks)).tolist()
            same_wording += 1
        expect(pair.locator(".hit-side .citation a.cite-link")).to_be_visible()
    assert same_wording >= 1
    expect(page.locator(".total-documents")).to_have_text(str(answer["total_documents"]))
    screenshot(page, "reuse-2-page")

    busiest = max(drawn, key=lambda p: p["documents"])
    bars.nth(drawn.index(busiest)).click()
    page.wait_for_url(f"**date_from={busiest['date_from']}**date_to={busiest['date_to']}**")
    dates = page.locator("section.pair.reuse .hit-side .citation time").all_text_contents()
    assert dates and all(busiest["date_from"] <= d <= busiest["date_to"] for d in dates)


def test_a_similar_result_links_to_its_reuse(server, page):
    url, plants = server
    plant = plants[0]
    own = next(r for r in httpx.post(url + "/api/reuse", json={"text": plant.text}, timeout=60).json()["reuses"]
               if r["doc_id"] == plant.source)
    page.goto(url + "/similar?" + urlencode({"chunk": own["chunk_id"]}))
    hits = page.locator("section.pair:has(a.similar-link)")
    sync_api.expect(hits.first).to_be_visible()
    links = page.locator("section.pair a.reuse-link")
    sync_api.expect(links.first).to_be_visible()
    assert links.count() < hits.count()  # only the results whose wording another document shares
    target = links.first.get_attribute("href")
    links.first.click()
    page.wait_for_url("**" + target)
    sync_api.expect(page.locator("section.pair.reuse").first).to_be_visible()
    screenshot(page, "reuse-4-from-similar")


def test_the_top_list_marks_the_shared_wording(server, page):
    url, _ = server
    top = httpx.get(url + "/api/reuse/top", timeout=60).json()
    page.goto(url + "/reuse/top")
    items = page.locator("ol.top-reuse li.reused-passage")
    sync_api.expect(items).to_have_count(len(top["passages"]))
    first = items.first
    assert first.get_attribute("data-documents") == str(top["passages"][0]["documents"])
    start, end = top["passages"][0]["shared"]
    sync_api.expect(first.locator("blockquote.passage mark")).to_have_text(top["passages"][0]["text"][start:end])
    screenshot(page, "reuse-3-top")
    first.locator("a.reuse-link").click()
    page.wait_for_url("**/reuse?chunk_id=**")
    sync_api.expect(page.locator("section.pair.reuse").first).to_be_visible()
