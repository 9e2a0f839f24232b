"""Change jobs (qa.search.jobs): in order, one at a time, reporting as they go, stopped when asked."""

from __future__ import annotations

import json
import threading
import time

import pytest

from qa.errors import BadInputError, NotFoundError
from qa.search import jobs as jobs_module
from qa.search.jobs import DONE, FAILED, QUEUED, RUNNING, STOPPED, ChangeJobs


def wait_until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_jobs_run_in_order_and_report_what_they_committed():
    jobs = ChangeJobs()
    order, release = [], threading.Event()

    def first(report, stop):
        report.added.append("d-1")
        release.wait(10)
        order.append("first")

    def second(report, stop):
        order.append("second")
        report.duplicates.append("b.txt")

    one, two = jobs.submit(("a.txt",), first), jobs.submit(("b.txt",), second)
    wait_until(lambda: one.status == RUNNING)
    assert two.status == QUEUED and jobs.busy() and one.report.added == ["d-1"]
    release.set()
    wait_until(lambda: two.ended)
    assert order == ["first", "second"] and (one.status, two.status) == (DONE, DONE)
    assert two.report.duplicates == ["b.txt"] and not jobs.busy()
    assert jobs.get(one.id) is one and one.url == f"/api/jobs/{one.id}"


def test_a_failed_job_says_why_and_the_next_one_runs():
    jobs = ChangeJobs()

    def refused(report, stop):
        raise BadInputError("not this one")

    def broken(report, stop):
        raise RuntimeError("a bug")

    failed, crashed = jobs.submit(("x",), refused), jobs.submit(("y",), broken)
    after = jobs.submit(("z",), lambda report, stop: report.added.append("d-2"))
    wait_until(lambda: after.ended)
    assert (failed.status, crashed.status, after.status) == (FAILED, FAILED, DONE)
    assert str(failed.error) == "not this one"
    assert str(crashed.error).startswith("the job failed (RuntimeError)")


def test_stopping_ends_the_running_job_at_its_next_document_and_drops_the_queued():
    jobs = ChangeJobs()

    def endless(report, stop):
        while not stop.is_set():
            report.added.append("d")
            time.sleep(0.01)

    running, queued = jobs.submit(("a",), endless), jobs.submit(("b",), endless)
    wait_until(lambda: running.report.added)
    started = time.monotonic()
    jobs.stop()
    assert time.monotonic() - started < 1
    assert (running.status, queued.status) == (STOPPED, STOPPED)
    with pytest.raises(Exception, match="the server is stopping"):
        jobs.submit(("c",), endless)


def test_old_jobs_are_forgotten(monkeypatch):
    monkeypatch.setattr(jobs_module, "KEPT_JOBS", 2)
    jobs = ChangeJobs()
    made = []
    for n in range(4):
        made.append(jobs.submit((str(n),), lambda report, stop: None))
        wait_until(lambda: made[-1].ended)
    with pytest.raises(NotFoundError, match="no job with id"):
        jobs.get(made[0].id)
    assert jobs.get(made[-1].id) is made[-1]


def test_a_large_upload_is_answered_202_and_its_job_reports_what_the_cli_counts(settings_factory,
                                                                              fake_seed_collection_copy, fake_encoder,
                                                                              monkeypatch):
    """The API and the page hand an upload over JOB_BYTES to a job; GET /api/jobs/{id} reports its counts, then
    the report a small upload answers with."""
    monkeypatch.setattr(jobs_module, "JOB_BYTES", 4096)  # a few speeches, not a megabyte of them
    from fastapi.testclient import TestClient

    from tests import hostile_files as hostile
    from tests.conftest import open_service
    from web.app import create_app

    records = "\n".join(json.dumps({"title": f"第{n}篇", "text": hostile.distinct_speech(n, 100)}, ensure_ascii=False)
                        for n in range(30))
    assert len(records.encode()) > jobs_module.JOB_BYTES
    service = open_service(fake_seed_collection_copy, fake_encoder)
    try:
        app = create_app(settings_factory(fake_seed_collection_copy), service=service)
        with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
            upload = [("files", ("many.jsonl", (records + "\n{}\n").encode(), "application/octet-stream"))]
            accepted = client.post("/api/documents", files=upload)
            assert accepted.status_code == 202, accepted.text
            status = accepted.json()
            assert accepted.headers["location"] == status["url"] == f"/api/jobs/{status['job']}"
            assert status["files"] == ["many.jsonl"] and status["status"] in (QUEUED, RUNNING)
            assert set(status) == {"job", "url", "status", "files", "counts", "report", "error"}
            wait_until(lambda: client.get(status["url"]).json()["status"] == DONE, timeout=120)
            done = client.get(status["url"]).json()
            assert done["counts"] == {"added": 30, "updated": 0, "duplicates": 0, "rejected": 1}
            assert len(done["report"]["added"]) == 30 and done["error"] is None
            assert done["report"]["rejected"] == [{"source": "many.jsonl#L31", "reason": "line 31: record has no text; "
                                                   "put it in one of the fields content, content_html, text, body"}]
            assert client.get("/api/documents", params={"limit": 1}).json()["total"] == 5 + 30
            assert client.get("/api/jobs/j-0000000000000000").status_code == 404

            page = client.post("/documents", files=[("files", ("more.jsonl", records.replace("篇", "章").encode(),
                                                               "application/octet-stream"))])
            assert page.status_code == 202 and "/api/jobs/j-" in page.text
    finally:
        service.collection.close()
