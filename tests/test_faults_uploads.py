"""Hostile uploads against a real server (issue 25, items 1, 2 and 5): decompression bombs, a JSON Lines file of
rejected records, deeply nested HTML, a long file name.

Each is built on the fly (tests/hostile_files.py) and sent to a server whose memory and health check are
watched while it reads it: it stays alive and within 1 GB of its idle memory, /healthz answers within a
second, and what it cannot take is refused with the reason.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests import hostile_files as hostile
from tests.conftest import Server, copy_of
from tests.fault_watch import GB, MB, SPEECH, WatchedServer, document_count, final_report, job_of, send, wait_for_job

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def watched(fake_seed_collection_dir, model_cache_dir, tmp_path_factory):
    """One server over its own copy of the sample speeches, for the uploads that must leave it as it was."""
    server = Server(copy_of(fake_seed_collection_dir, tmp_path_factory, "faults"), model_cache_dir, fake=True)
    yield WatchedServer(server)
    server.stop()


def _over_the_limit(reason: str) -> bool:
    return re.search(r"\b20(\.0)? MB limit\b", reason) is not None


# -- 1. one upload can take the server down ----------------------------------------------------------
BOMBS = {
    "a docx whose one text node expands to 1 GB": lambda: ("node.docx", hostile.docx_with_huge_text_node(GB)),
    "a docx zip bomb of 1.1 GB": lambda: ("bomb.docx", hostile.docx_with_huge_image(SPEECH, 1100 * MB)),
    "a jsonl.gz that expands to 1 GB": lambda: ("bomb.jsonl.gz", hostile.gzip_of_repeated_records({"text": SPEECH}, GB)),
}


@pytest.mark.parametrize("bomb", BOMBS)
def test_a_decompression_bomb_is_refused_for_what_it_expands_to(watched, bomb):
    name, data = BOMBS[bomb]()
    assert len(data) < 5 * MB
    before = document_count(watched.url)
    with watched.watching() as watch:
        report = final_report(watched.url, [(name, data)])
    watched.assert_well(watch)
    assert report["added"] == [] and [r["source"] for r in report["rejected"]] == [name]
    assert "expands to" in report["rejected"][0]["reason"] and _over_the_limit(report["rejected"][0]["reason"])
    assert document_count(watched.url) == before


def test_a_jsonl_whose_records_are_all_rejected_is_counted_not_kept(watched):
    data = hostile.rejected_jsonl(19 * MB)
    lines = data.count(b"\n")
    with watched.watching() as watch:
        response = send(watched.url, [("junk.jsonl", data)])
        job = wait_for_job(job_of(watched.url, response), 240)
    watched.assert_well(watch)
    assert job["status"] == "done"
    assert job["counts"] == {"added": 0, "updated": 0, "duplicates": 0, "rejected": lines}
    listed = job["report"]["rejected"]
    assert len(listed) <= 1001 < lines
    assert listed[0] == {"source": "junk.jsonl#L1", "reason": "line 1: record has no text; put it in one of the "
                                                              "fields content, content_html, text, body"}
    assert listed[-1]["source"] == "junk.jsonl" and f"{lines - len(listed) + 1:,} more" in listed[-1]["reason"]


@pytest.mark.parametrize("levels", [20_000, 80_000, 1_000_000])
def test_deeply_nested_html_is_read_in_bounded_time(watched, levels):
    text = hostile.distinct_speech(levels)
    started = time.monotonic()
    with watched.watching() as watch:
        report = final_report(watched.url, [(f"deep-{levels}.html", hostile.nested_html(levels, text))], timeout=60)
    watched.assert_well(watch)
    assert time.monotonic() - started < 30
    assert len(report["added"]) == 1, report
    document = httpx.get(f"{watched.url}/api/documents/{report['added'][0]}", timeout=10).json()
    assert document["text"] == text


# -- 5. smaller ----------------------------------------------------------------------------------------------
def test_a_long_file_name_keeps_its_extension():
    from qa.ingest.readers import read_named
    from qa.types import RawDocument

    name = "关于" + "进一步优化营商环境" * 20 + "的讲话.docx"
    [document] = read_named(name, hostile.docx([SPEECH]))
    assert isinstance(document, RawDocument) and document.text == SPEECH
    assert document.source.endswith("进一步优化.docx") and len(document.source) == 120
