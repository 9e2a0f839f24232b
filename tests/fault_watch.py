"""Watching a real server while a fault test does something to it (issue 25), and talking to it.

The server's memory is its own and its child processes' (/proc/PID/status), never the machine's, so that
tests run beside others (pytest -n) measure only what they do; /healthz is polled every 0.2 s.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests import hostile_files as hostile
from tests.conftest import ROOT, Server, speechqa_command
from tests.fakes import char_ngrams_env

GB = 1024**3
MB = hostile.MB
MEMORY_ALLOWANCE = GB  # above idle, for any one upload
HEALTH_ALLOWANCE_S = 1.0
RUNAWAY = 3 * GB  # past this the watcher kills the server rather than let one test take the machine's memory
SPEECH = ("同志们：今天我们召开全市优化营商环境大会，总结去年工作，部署今年任务。"
          "我们要坚持问题导向，深化放管服改革，让企业办事更方便、更快捷。")


# -- watching a server -----------------------------------------------------------------------------
def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def descendants(pid: int) -> list[int]:
    """The processes a process started, and theirs."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    return found


def still_running(pids: list[int], within: float) -> list[int]:
    """Those of `pids` still running (zombies awaiting their reaping aside) after waiting up to `within` s for
    them to go: a process told to stop takes a moment to."""
    deadline = time.monotonic() + within
    while (left := [pid for pid in pids if _running(pid)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _resident(pid: int) -> int:
    """Resident memory of a process and the processes it started (its preparing workers, say)."""
    total = 0
    for one in (pid, *descendants(pid)):
        with contextlib.suppress(OSError):
            total += _status_kb(one, "VmRSS")
    return total


@dataclass
class Watch:
    growth: int = 0  # the most memory above idle: the server's own peak (VmHWM), or its processes' summed
    slowest_health: float = 0.0
    health_failures: list[str] = field(default_factory=list)
    killed: bool = False


class WatchedServer:
    """A real server whose memory and health check are watched while a test does something to it."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.url = server.url
        self.pid = server.process.pid
        assert httpx.get(self.url + "/api/search", params={"q": "营商环境", "k": 3}, timeout=120).status_code == 200
        self.idle_own = _status_kb(self.pid, "VmRSS")
        self.idle = _resident(self.pid)

    @contextlib.contextmanager
    def watching(self) -> Iterator[Watch]:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # VmHWM starts again from the current size
        watch, stop = Watch(), threading.Event()

        def poll() -> None:
            with httpx.Client(base_url=self.url, timeout=10) as client:
                while not stop.is_set():
                    started = time.monotonic()
                    try:
                        status = client.get("/healthz").status_code
                    except httpx.HTTPError as exc:
                        status, reason = None, repr(exc)
                    else:
                        reason = f"/healthz answered {status}"
                    watch.slowest_health = max(watch.slowest_health, time.monotonic() - started)
                    if status != 200:
                        watch.health_failures.append(reason)
                    with contextlib.suppress(OSError):
                        watch.growth = max(watch.growth, _resident(self.pid) - self.idle)
                    if watch.growth > RUNAWAY:
                        self.server.process.kill()
                        watch.killed = True
                        return
                    stop.wait(0.2)

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield watch
        finally:
            stop.set()
            thread.join()
            with contextlib.suppress(OSError):
                watch.growth = max(watch.growth, _status_kb(self.pid, "VmHWM") - self.idle_own)

    def assert_well(self, watch: Watch) -> None:
        assert not watch.killed, f"the server grew past {RUNAWAY / GB:.0f} GB above idle and was killed"
        assert self.server.process.poll() is None, "the server died"
        assert watch.growth < MEMORY_ALLOWANCE, f"the server grew {watch.growth / MB:.0f} MB above idle"
        assert not watch.health_failures, watch.health_failures[:3]
        assert watch.slowest_health < HEALTH_ALLOWANCE_S, f"/healthz took {watch.slowest_health:.2f} s"


# -- talking to it ----------------------------------------------------------------------------------
def send(url: str, files: list[tuple[str, bytes]], timeout: float = 120) -> httpx.Response:
    return httpx.post(url + "/api/documents", files=[("files", (name, data, "application/octet-stream"))
                                                     for name, data in files], timeout=timeout)


def job_of(url: str, response: httpx.Response) -> str:
    assert response.status_code == 202, response.text
    location = response.headers["location"]
    assert location == response.json()["url"] and location.startswith("/api/jobs/")
    return url + location


def wait_for_job(job_url: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(job_url, timeout=10).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"the job at {job_url} did not finish in {timeout:.0f} s: {job}")


def final_report(url: str, files: list[tuple[str, bytes]], timeout: float = 240) -> dict:
    """What an upload comes to: the report it answers with, or its job's once the job is done."""
    response = send(url, files)
    if response.status_code == 200:
        return response.json()
    job = wait_for_job(job_of(url, response), timeout)
    assert job["status"] == "done", job
    return job["report"]


def document_count(url: str) -> int:
    return httpx.get(url + "/api/documents", params={"limit": 1}, timeout=30).json()["total"]


def speechqa(*args: str, data: Path, cache: Path, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
    """`speechqa ARGS` with the n-gram encoder (the collections here are built with it)."""
    return subprocess.run([*speechqa_command(fake=True), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=writer_env(data, cache, **env))


def writer_env(data: Path, cache: Path, **env: str) -> dict[str, str]:
    return char_ngrams_env({**os.environ, "SPEECHQA_CACHE": str(cache), "SPEECHQA_DATA": str(data), **env})


def assert_no_traceback(run: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout, run.stderr[-3000:]


def stopped_within(server: Server, seconds: float) -> float:
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(seconds)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
        raise AssertionError(f"SIGTERM did not stop the server within {seconds:.0f} s") from None
    finally:
        server.log.close()
    return time.monotonic() - started
