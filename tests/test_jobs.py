"""Change jobs (qa.search.jobs): in order, one at a time, reporting as they go, stopped when asked."""

from __future__ import annotations

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
