"""Phrase timelines (qa/search/phrase.py, qa/index/phrase_index.py) on a store built from the sample speeches, no model needed."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from conftest import SEEDS

from qa.errors import BadInputError
from qa.index import phrase_index
from qa.index.collection import ChunkingSettings
from qa.index.phrase_index import fold_for_phrase
from qa.index.store import PassageStore
from qa.ingest.pipeline import build_document, make_passages
from qa.ingest.readers import read_path
from qa.search.phrase import PhraseRequest, period_bounds, periods_between, phrase_timeline, resolve_granularity
from qa.text.normalize import fold_width, to_simplified
from qa.types import RawDocument

# Each is in Traditional seeds and, for the first two, in the Simplified one (001) too.
PHRASES = ["招商引资", "招商引資", "工业经济", "工業經濟", "高质量发展", "干部駐企", "工业", "项目"]


def plain_count(text: str, phrase: str) -> int:
    """The reference: fold the whole text and the phrase with OpenCC and the width table, and count."""
    return to_simplified(fold_width(text)).lower().count(to_simplified(fold_width(phrase)).lower())


def build_store(path) -> PassageStore:
    store = PassageStore(path)
    items = []
    for file in sorted(SEEDS.glob("*.txt")):
        for raw in read_path(file):
            assert isinstance(raw, RawDocument)
            document = build_document(raw)
            items.append((document, make_passages(document.doc_id, document.text, ChunkingSettings()), None))
    store.add_documents(items, {}, "none")
    return store


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("phrase-store")
    build_store(directory / "speechqa.sqlite").close()
    return directory


@pytest.fixture(scope="module")
def store(store_dir):
    opened = PassageStore(store_dir / "speechqa.sqlite")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def texts(store) -> dict[str, str]:
    return {d.doc_id: store.get_document(d.doc_id).text for d, _ in store.list_documents(0, 100)}


@pytest.mark.parametrize("phrase", PHRASES)
def test_counts_equal_a_plain_scan_of_the_stored_texts(store, texts, phrase):
    timeline = phrase_timeline(store, PhraseRequest(phrase=phrase, limit=10_000))
    expected = {doc_id: n for doc_id, text in texts.items() if (n := plain_count(text, phrase))}
    assert expected, f"{phrase} should occur in the sample speeches"
    assert timeline.total_occurrences == sum(expected.values())
    assert timeline.total_documents == len(expected)
    found: dict[str, int] = {}
    for hit in timeline.occurrences:
        found[hit.document.doc_id] = found.get(hit.document.doc_id, 0) + 1
        start, end = hit.match
        assert fold_for_phrase(texts[hit.document.doc_id][start:end]) == fold_for_phrase(phrase)
        (a, b), = hit.highlights
        assert hit.passage.text[a:b] == texts[hit.document.doc_id][start:end]  # marked where the reader sees it
    assert found == expected


def test_a_phrase_finds_both_scripts(store, texts):
    simplified = phrase_timeline(store, PhraseRequest(phrase="招商引资进度"))
    traditional = phrase_timeline(store, PhraseRequest(phrase="招商引資進度"))
    assert simplified.total_occurrences == traditional.total_occurrences == 1
    assert "招商引資進度" in simplified.occurrences[0].passage.text  # the reader sees the document's own script
    scripts = {store.get_document(doc_id).script for doc_id, text in texts.items() if plain_count(text, "工业经济")}
    assert scripts == {"zh-Hans", "zh-Hant"}


def test_fold_keeps_one_character_for_one():
    text = "在縣委工作會上講話：ＡＢＣ１２３，“發展”\n臺灣"
    folded = fold_for_phrase(text)
    assert len(folded) == len(text)
    assert folded == "在县委工作会上讲话:abc123,\"发展\"\n台湾"


@pytest.mark.parametrize("phrase", ["新质生产力", "工\x00业", "工业\x07"])  # stored texts hold no control characters
def test_nowhere_says_so(store, phrase):
    timeline = phrase_timeline(store, PhraseRequest(phrase=phrase))
    assert (timeline.total_occurrences, timeline.total_documents, timeline.first, timeline.series) == (0, 0, None, ())
    assert timeline.occurrences == ()


def test_first_use_is_the_earliest_dated_occurrence(store):
    timeline = phrase_timeline(store, PhraseRequest(phrase="工业", limit=10_000))
    dates = [hit.document.metadata.date for hit in timeline.occurrences if hit.document.metadata.date]
    assert timeline.first is not None and timeline.first.document.metadata.date == min(dates)
    assert dates == sorted(dates)  # time order, undated last
    assert timeline.occurrences[0].passage == timeline.first.passage
    assert sum(p.occurrences for p in timeline.series) == len(dates)
    assert timeline.undated_occurrences == timeline.total_occurrences - len(dates)


def test_paging_and_filters(store):
    whole = phrase_timeline(store, PhraseRequest(phrase="工业", limit=10_000))
    page = phrase_timeline(store, PhraseRequest(phrase="工业", offset=5, limit=5))
    assert [h.match for h in page.occurrences] == [h.match for h in whole.occurrences[5:10]]
    assert [h.rank for h in page.occurrences] == [6, 7, 8, 9, 10]
    assert page.total_occurrences == whole.total_occurrences
    one_doc = whole.occurrences[0].document.doc_id
    only = phrase_timeline(store, PhraseRequest(phrase="工业", doc_ids=(one_doc,), limit=10_000))
    assert {h.document.doc_id for h in only.occurrences} == {one_doc}
    date = whole.first.document.metadata.date
    before = phrase_timeline(store, PhraseRequest(phrase="工业", date_to=date, limit=10_000))
    assert before.total_occurrences and all(h.document.metadata.date <= date for h in before.occurrences)
    source = whole.by_source[0]
    by_source = phrase_timeline(store, PhraseRequest(phrase="工业", source=source.value))
    assert (by_source.total_documents, by_source.total_occurrences) == (1, source.occurrences)


def test_the_index_follows_removals_and_catches_up(store_dir, tmp_path, texts):
    shutil.copytree(store_dir, tmp_path / "copy")
    path = tmp_path / "copy" / "speechqa.sqlite"
    copy = PassageStore(path)
    doc_id = next(d for d, t in texts.items() if plain_count(t, "招商引资"))
    before = phrase_timeline(copy, PhraseRequest(phrase="招商引资")).total_occurrences
    assert copy.remove_document(doc_id)
    after = phrase_timeline(copy, PhraseRequest(phrase="招商引资")).total_occurrences
    assert after == before - plain_count(texts[doc_id], "招商引资")
    copy.close()
    # A collection from before the index existed: the first phrase query fills it in.
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE phrase_grams")
        db.execute("DROP TABLE phrase_docs")
    reopened = PassageStore(path)
    assert not phrase_index.is_complete(reopened._db)
    assert phrase_timeline(reopened, PhraseRequest(phrase="招商引资")).total_occurrences == after
    assert phrase_index.is_complete(reopened._db)
    # An index of an older format is rebuilt, not trusted.
    reopened._db.execute("DELETE FROM meta WHERE key = ?", (phrase_index.FORMAT_KEY,))
    assert not phrase_index.is_complete(reopened._db)
    assert phrase_timeline(reopened, PhraseRequest(phrase="招商引資")).total_occurrences == after
    assert phrase_index.is_complete(reopened._db)
    reopened.close()


def test_two_characters_are_looked_up_even_at_the_very_end_of_a_text(tmp_path):
    store = PassageStore(tmp_path / "speechqa.sqlite")
    texts = {"end": "今天召开全县大会，部署下一步的重点工作，会议要求各乡镇抓好工業", "middle": "全县工业经济运行平稳，工业投资增长较快。",
             "none": "今天召开全县大会，部署下一步的重点任务和具体措施。"}
    items = []
    for source, text in texts.items():
        document = build_document(RawDocument(text=text, source=f"{source}.txt"))
        items.append((document, make_passages(document.doc_id, document.text, ChunkingSettings()), None))
    store.add_documents(items, {}, "none")
    timeline = phrase_timeline(store, PhraseRequest(phrase="工业", limit=100))
    assert {hit.document.source for hit in timeline.occurrences} == {"end.txt", "middle.txt"}
    assert timeline.total_occurrences == 3
    assert any(hit.passage.text.endswith("工業") for hit in timeline.occurrences)
    assert phrase_timeline(store, PhraseRequest(phrase="x工")).total_occurrences == 0
    store.close()


def test_periods():
    assert periods_between("2024-11", "2025-02", "month") == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert periods_between("2019", "2021", "year") == ["2019", "2020", "2021"]
    assert period_bounds("2024-02") == ("2024-02-01", "2024-02-29")
    assert period_bounds("2024-12") == ("2024-12-01", "2024-12-31")
    assert period_bounds("2023") == ("2023-01-01", "2023-12-31")
    assert resolve_granularity("auto", ["2022-01-27", "2023-04-20"]) == "month"
    assert resolve_granularity("auto", ["2012-07-02", "2026-06-01"]) == "year"
    assert resolve_granularity("month", ["2012-07-02", "2026-06-01"]) == "month"


@pytest.mark.parametrize(("request_", "message"), [
    (PhraseRequest(phrase="  "), "the phrase is empty"),
    (PhraseRequest(phrase="长" * 101), "at most 100"),
    (PhraseRequest(phrase=" 县 "), "is one character; give at least 2"),
    (PhraseRequest(phrase="工业", granularity="week"), "granularity must be one of auto, month, year"),
    (PhraseRequest(phrase="工业", date_from="2022-13-01"), "date_from must be an ISO date"),
    (PhraseRequest(phrase="工业", limit=0), "limit between 1 and 10000"),
])
def test_bad_requests_say_what_to_change(store, request_, message):
    with pytest.raises(BadInputError, match=message):
        phrase_timeline(store, request_)


def test_cli_prints_the_timeline_and_its_json(store_dir):
    import json
    import subprocess
    import sys

    from conftest import ROOT

    def run(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "qa.cli", "phrase", *args, "--data", str(store_dir)],
                              capture_output=True, text=True, cwd=str(ROOT), timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    text = run("招商引资", "--limit", "2")
    assert text.startswith("「招商引资」: 6 occurrences in 3 documents\n")
    assert "【招商引資】" in text and "(4 more: --offset 2)" in text
    body = json.loads(run("招商引資", "--json", "--limit", "1"))
    assert (body["total_occurrences"], len(body["occurrences"])) == (6, 1)
    assert "occurs nowhere" in run("新质生产力")


def test_requests_that_find_the_index_behind_catch_it_up_once(store_dir, tmp_path, texts):
    from concurrent.futures import ThreadPoolExecutor

    shutil.copytree(store_dir, tmp_path / "copy")
    path = tmp_path / "copy" / "speechqa.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM meta WHERE key = ?", (phrase_index.FORMAT_KEY,))  # as if built by an older format
    stale = PassageStore(path)
    expected = sum(plain_count(text, "工业") for text in texts.values())
    with ThreadPoolExecutor(4) as pool:
        totals = list(pool.map(lambda _: phrase_timeline(stale, PhraseRequest(phrase="工业")).total_occurrences, range(4)))
    assert totals == [expected] * 4
    assert phrase_index.is_complete(stale._db)
    stale.close()
