"""The pages in a real headless chromium, started the way a user starts them: `python -m qa.cli demo`.

Screenshots go to the test's tmp_path and are copied to test-output/screenshots/ (git-ignored) for people to look at.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests",
                allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

pytestmark = pytest.mark.browser

QUESTION = "招商引资进度为什么落后"
ANSWER = "招商引資進度全市排名最后"
SCRIPT = "<script>alert(1)</script>"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).parents[1]
SCREENSHOTS = ROOT / "test-output" / "screenshots"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def demo(seed_collection_dir, model_cache_dir, tmp_path_factory):
    """`speechqa demo` over a copy of the seed collection (the demo skips ingest when the collection exists)."""
    data = tmp_path_factory.mktemp("demo") / "collection"
    shutil.copytree(seed_collection_dir, data)
    port = free_port()
    env = {**os.environ, "SPEECHQA_CACHE": str(model_cache_dir)}
    env.pop("SPEECHQA_TOKEN", None)
    log_path = data.parent / "demo.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "qa.cli", "demo", "--data", str(data), "--port", str(port)],
                                   env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT))
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 180
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"demo exited: {log_path.read_text(errors='replace')}")
                try:
                    if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the demo did not answer in 180 s")
                time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(60_000)  # two shared cores: the first query also warms the model up
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def screenshot(page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SCREENSHOTS / path.name)
    return path


def test_question_to_cited_passage_to_similar_passages(demo, page, tmp_path):
    expect = sync_api.expect
    page.goto(demo + "/")
    page.fill("#q", QUESTION)
    page.press("#q", "Enter")
    page.wait_for_url("**/search?**")

    hits = page.locator("article.hit")
    expect(hits).to_have_count(10)
    for i in range(3):
        hit = hits.nth(i)
        expect(hit.locator(".citation a.cite-link")).to_be_visible()
        assert hit.locator(".citation a.cite-link").inner_text().strip()
        expect(hit.locator("blockquote.passage mark").first).to_be_visible()  # the answering sentence
    top3 = [hits.nth(i).locator("blockquote.passage").text_content() for i in range(3)]
    assert any(ANSWER in text for text in top3), top3
    screenshot(page, tmp_path, "1-search-results")

    first = hits.first
    passage = first.locator("blockquote.passage").text_content()
    chunk_id = first.get_attribute("data-chunk")
    first.locator("a.cite-link").click()
    page.wait_for_url(f"**/doc/**#{chunk_id}")
    cited = page.locator(".speech-text .seg.cited")
    expect(cited.first.locator("mark")).to_be_visible()
    expect(cited.first).to_be_in_viewport()
    assert "".join(cited.all_text_contents()) == passage  # exactly the passage of the result, and all of it
    screenshot(page, tmp_path, "2-document")

    page.go_back()
    page.wait_for_url("**/search?**")
    page.locator("article.hit").first.locator("a.similar-link").click()
    page.wait_for_url(f"**/similar?chunk={chunk_id}")
    pairs = page.locator("section.pair")
    expect(pairs.first).to_be_visible()
    assert pairs.count() >= 3
    expect(pairs.first.locator(".source-side mark").first).to_be_visible()  # shared wording, on both sides
    expect(pairs.first.locator(".hit-side mark").first).to_be_visible()
    source_doc = page.locator("p.muted a[href^='/doc/']").first.get_attribute("href").split("?")[0]
    cited_docs = {pairs.nth(i).locator("a.cite-link").get_attribute("href").split("?")[0] for i in range(pairs.count())}
    assert source_doc not in cited_docs  # other speeches only
    screenshot(page, tmp_path, "3-similar")


def test_a_document_link_with_only_a_fragment_marks_the_passage(demo, page):
    """/doc/ID#CHUNK (the API's citation.url) marks the passage with app.js and scrolls to it."""
    hit = httpx.get(demo + "/api/search", params={"q": QUESTION, "k": 5}, timeout=60).json()["results"][4]
    page.goto(demo + hit["citation"]["url"])
    marked = page.locator(f".speech-text .seg.js-cited.{hit['chunk_id']}")
    sync_api.expect(marked.first).to_be_in_viewport()
    assert "".join(marked.all_text_contents()) == hit["text"]
    assert page.locator(".seg.cited").count() == 0  # no ?chunk=: nothing marked on the server


def test_script_in_a_speech_is_shown_as_text_and_never_run(demo, page, tmp_path):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    speech = (f"关于防汛抗旱工作的讲话{SCRIPT}\n"
              f"同志们：今年入汛以来，全县降雨偏多，防汛形势十分严峻。{SCRIPT}各乡镇要把水库巡查责任落实到人，"
              "对病险水库实行二十四小时值守，确保人民群众生命财产安全。要提前转移低洼地带群众，储备好防汛物资。\n")
    page.goto(demo + "/documents")
    page.set_input_files("input[name=files]", files=[{"name": "flood.txt", "mimeType": "text/plain",
                                                      "buffer": speech.encode("utf-8")}])
    page.locator("form.upload button[type=submit]").click()
    page.wait_for_load_state()
    sync_api.expect(page.locator("section.report")).to_contain_text("1 新增 added")
    doc_href = page.locator("section.report ul.added a").first.get_attribute("href")

    page.goto(demo + "/search?q=" + "水库巡查责任怎么落实")
    hit = page.locator("article.hit").first
    sync_api.expect(hit.locator("blockquote.passage")).to_contain_text(SCRIPT)
    sync_api.expect(hit.locator("a.cite-link")).to_have_text(f"关于防汛抗旱工作的讲话{SCRIPT}")
    screenshot(page, tmp_path, "4-script-as-text-results")

    page.goto(demo + doc_href)
    sync_api.expect(page.locator("h1")).to_have_text(f"关于防汛抗旱工作的讲话{SCRIPT}")
    sync_api.expect(page.locator(".speech-text")).to_contain_text(f"十分严峻。{SCRIPT}各乡镇")
    assert page.locator(".speech-text script, main script").count() == 0
    assert page.title() == f"关于防汛抗旱工作的讲话{SCRIPT} · speechqa"
    page.wait_for_timeout(300)
    assert dialogs == []
    assert httpx.delete(demo + "/api/documents/" + doc_href.rsplit("/", 1)[-1], timeout=60).status_code == 200


@pytest.mark.parametrize("path", ["/", "/search?q=招商引资进度为什么落后", "/documents", "/similar", "SIMILAR", "DOC"])
def test_phone_screens_do_not_scroll_sideways(demo, browser, tmp_path, path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    context.set_default_timeout(60_000)
    phone = context.new_page()
    try:
        if path in ("SIMILAR", "DOC"):
            hit = httpx.get(demo + "/api/search", params={"q": QUESTION, "k": 1}, timeout=60).json()["results"][0]
            path = f"/similar?chunk={hit['chunk_id']}" if path == "SIMILAR" else f"/doc/{hit['doc_id']}?chunk={hit['chunk_id']}#{hit['chunk_id']}"
        phone.goto(demo + path)
        width = phone.evaluate("document.scrollingElement.scrollWidth")
        inner = phone.evaluate("window.innerWidth")
        assert width <= inner + 1, f"{path}: page is {width}px wide on a {inner}px screen"
        if path.startswith(("/search", "/doc/")):
            screenshot(phone, tmp_path, "5-phone-search" if path.startswith("/search") else "6-phone-document")
    finally:
        context.close()


# -- research tools: phrase timeline, facets, downloads (issue 15) ----------------------------------
PHRASE = "工业"


def test_the_timeline_chart_links_each_bar_to_its_period(demo, page, tmp_path):
    timeline = httpx.get(demo + "/api/phrase", params={"q": PHRASE}, timeout=60).json()
    drawn = [p for p in timeline["series"] if p["occurrences"]]
    page.goto(demo + "/phrase?q=" + PHRASE)
    bars = page.locator("svg.timeline-chart a.bar")
    sync_api.expect(bars).to_have_count(len(drawn))
    assert [bars.nth(i).get_attribute("data-period") for i in range(len(drawn))] == [p["period"] for p in drawn]
    assert page.locator("svg.timeline-chart text.x-label").count() >= 2  # a readable time axis
    sync_api.expect(page.locator(".total-occurrences")).to_have_text(str(timeline["total_occurrences"]))
    sync_api.expect(page.locator("section.first-use blockquote.passage mark").first).to_be_visible()
    screenshot(page, tmp_path, "7-phrase-timeline")

    busiest = max(drawn, key=lambda p: p["occurrences"])
    label = f"{busiest['period']}: {busiest['occurrences']} occurrences in {busiest['documents']} documents"
    assert page.get_by_role("link", name=label).count() == 1  # screen readers reach the bars too
    bars.nth(drawn.index(busiest)).click()
    page.wait_for_url(f"**date_from={busiest['date_from']}**date_to={busiest['date_to']}**")
    occurrences = page.locator("section.occurrences article.occurrence")
    sync_api.expect(occurrences).to_have_count(min(busiest["occurrences"], 50))
    dates = page.locator("section.occurrences article.occurrence .citation time").all_text_contents()
    assert dates and all(busiest["date_from"] <= d <= busiest["date_to"] for d in dates)
    for mark in page.locator("section.occurrences blockquote.passage mark").all_text_contents()[:10]:
        assert mark in (PHRASE, "工業")  # the phrase marked in context, in the document's own script
    sync_api.expect(page.locator(".active-filters .chip[data-kind=date]")).to_be_visible()


def test_a_phrase_that_occurs_nowhere_offers_the_semantic_search(demo, page):
    page.goto(demo + "/phrase?q=新质生产力")
    sync_api.expect(page.locator("p.nowhere")).to_contain_text("没有出现")
    page.locator("p.nowhere a.semantic-search").click()
    page.wait_for_url("**/search?q=**")
    sync_api.expect(page.locator("article.hit").first).to_be_visible()


def test_facets_filter_the_results_and_the_filter_can_be_removed(demo, page, tmp_path):
    page.goto(demo + "/search?q=" + QUESTION)
    year_link = page.locator("aside.facets section[data-kind=year] a.facet-value").first
    year = year_link.get_attribute("data-value")
    year_link.click()
    page.wait_for_url(f"**date_from={year}-01-01**")
    chip = page.locator(".active-filters .chip[data-kind=year]")
    sync_api.expect(chip).to_contain_text(year)
    dates = page.locator("article.hit .citation time").all_text_contents()
    assert dates and all(d.startswith(year) for d in dates)
    assert page.locator("#q").input_value() == QUESTION
    screenshot(page, tmp_path, "8-faceted-search")

    chip.locator("a.remove").click()
    page.wait_for_url(lambda url: "date_from" not in url)
    sync_api.expect(page.locator(".active-filters .chip")).to_have_count(0)
    sync_api.expect(page.locator("article.hit")).to_have_count(10)


def test_the_csv_download_holds_the_passages_of_the_page(demo, page):
    import csv
    import io

    page.goto(demo + "/search?q=" + QUESTION + "&k=5")
    shown = [page.locator("article.hit").nth(i).get_attribute("data-chunk") for i in range(5)]
    with page.expect_download() as info:
        page.locator(".export-links a.export-csv").click()
    download = info.value
    assert download.suggested_filename == "speechqa-search.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    assert [row["chunk_id"] for row in rows] == shown
    texts = page.locator("article.hit blockquote.passage").all_text_contents()
    assert [row["text"] for row in rows] == texts


@pytest.mark.parametrize("path", ["/phrase?q=工业", "/search?q=招商引资进度为什么落后&date_from=2022-01-01&date_to=2022-12-31"])
def test_the_research_pages_fit_a_phone(demo, browser, path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    context.set_default_timeout(60_000)
    phone = context.new_page()
    try:
        phone.goto(demo + path)
        width = phone.evaluate("document.scrollingElement.scrollWidth")
        inner = phone.evaluate("window.innerWidth")
        assert width <= inner + 1, f"{path}: page is {width}px wide on a {inner}px screen"
        if path.startswith("/phrase"):
            box = phone.locator("svg.timeline-chart").bounding_box()
            assert box is not None and box["width"] <= inner and box["height"] > 50  # the chart shrinks to fit
    finally:
        context.close()


def test_a_date_the_question_names_can_be_switched_off_and_back_on(demo, page, tmp_path):
    page.goto(demo + "/search?q=2023年工业经济工作怎么抓")
    chip = page.locator(".preferences .chip[data-kind=dates]")
    sync_api.expect(chip).to_have_attribute("data-applied", "true")
    sync_api.expect(chip).to_contain_text("2023")
    first_date = page.locator("article.hit .citation time").first.text_content()
    assert first_date and first_date.startswith("2023")
    screenshot(page, tmp_path, "9-named-date-favoured")

    chip.locator("a.remove-filter").click()
    page.wait_for_url("**ignore_filter=date%3A2023**")
    sync_api.expect(page.locator(".preferences")).to_have_attribute("data-applied", "false")
    sync_api.expect(page.locator("article.hit")).to_have_count(10)
    # Asking again from the form keeps it switched off; the chip's link switches it back on.
    page.locator("form.search button[type=submit]").click()
    page.wait_for_url("**ignore_filter=date%3A2023**")
    page.locator(".preferences .chip[data-kind=dates] a.restore-filter").click()
    page.wait_for_url(lambda url: "ignore_filter" not in url)
    sync_api.expect(page.locator(".preferences")).to_have_attribute("data-applied", "true")


def test_the_api_docs_render_with_no_network(demo, page):
    """/docs lists the operations on a machine that reaches nothing but this server."""
    outside: list[str] = []

    def only_this_server(route):
        if route.request.url.startswith(demo):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_server)
    page.goto(demo + "/docs")
    page.wait_for_selector(".opblock")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/search" in paths and "/api/documents" in paths, paths
    assert outside == []


def test_the_cited_passage_starts_in_view_below_the_top(demo, page):
    """Arriving at a long cited passage shows where it starts, not its middle with the start scrolled away."""
    hits = httpx.get(demo + "/api/search", params={"q": QUESTION, "k": 10}, timeout=60).json()["results"]
    longest = max(hits, key=lambda hit: len(hit["text"]))
    page.set_viewport_size({"width": 420, "height": 360})  # shorter than the passage
    page.goto(demo + longest["citation"]["url"])
    page.wait_for_timeout(500)  # the page's script scrolls to the passage once loaded
    top = page.evaluate("document.querySelector('.speech-text .seg.cited, .speech-text .js-cited')"
                        ".getBoundingClientRect().top")
    assert 0 <= top < 360 / 2, top


def test_a_document_is_deleted_from_the_documents_page_after_a_confirm_step(demo, page, tmp_path):
    """Loopback without a token may delete (as the API's DELETE): a row's control asks once more, then the
    page reloads without the document."""
    speech = ("关于秋季森林防火工作的讲话\n同志们：进入秋季以来，全县气候干燥，森林防火形势严峻。各乡镇要落实护林员巡山制度，"
              "严禁野外用火，发现火情第一时间报告并组织扑救，确保不发生重特大森林火灾。\n")
    added = httpx.post(demo + "/api/documents", files=[("files", ("fire.txt", speech.encode(), "text/plain"))], timeout=120)
    [doc_id] = added.json()["added"]
    page.goto(demo + "/documents?limit=100")
    row = page.locator("table.documents tr", has=page.locator(f'a[href="/doc/{doc_id}"]'))
    confirm = row.locator("details.delete button[type=submit]")
    assert not confirm.is_visible()  # one click does not delete: the confirm button shows once the control opens
    row.locator("details.delete summary").click()
    sync_api.expect(confirm).to_be_visible()
    screenshot(page, tmp_path, "7-documents-delete-confirm")
    with page.expect_navigation():
        confirm.click()
    assert page.url.endswith("/documents")
    assert page.locator(f'a[href="/doc/{doc_id}"]').count() == 0
    assert httpx.get(demo + f"/api/documents/{doc_id}", timeout=60).status_code == 404


@pytest.mark.parametrize("viewport", [(1280, 900), (420, 360)], ids=["desktop", "phone"])
def test_the_cited_passage_stays_below_the_sticky_nav(demo, page, viewport):
    """The nav stays on screen as the page scrolls; arriving at a citation leaves the passage's start below it."""
    hits = httpx.get(demo + "/api/search", params={"q": QUESTION, "k": 10}, timeout=60).json()["results"]
    # A passage far down its speech, so that reaching it scrolls the page (and the nav) a long way.
    far = max(hits, key=lambda hit: hit["citation"]["char_start"])
    width, height = viewport
    page.set_viewport_size({"width": width, "height": height})
    page.goto(demo + far["citation"]["url"])
    page.wait_for_timeout(500)  # the page's script scrolls to the passage once loaded
    assert page.evaluate("window.scrollY") > 0
    nav = page.evaluate("document.querySelector('header.site').getBoundingClientRect().bottom")
    top = page.evaluate("document.querySelector('.speech-text .seg.cited, .speech-text .js-cited')"
                        ".getBoundingClientRect().top")
    assert nav > 0, "the nav scrolled away"
    assert nav <= top < height, (nav, top)
