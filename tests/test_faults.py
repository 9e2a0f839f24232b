"""What an attacker or an unlucky operator does to a server (issue 25), with real processes and real files.

Every hostile upload is built on the fly (tests/hostile_files.py) and sent to a real server whose memory
(/proc/PID/status) and health check are watched while it reads it: the server stays alive and within
1 GB of its idle memory, /healthz answers within a second, and what it cannot take is refused with the
reason. A full disk is a small tmpfs; two writers are two real processes.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests import hostile_files as hostile
from tests.conftest import ROOT, SEEDS, Server, copy_of, paragraph_files, speechqa_command
from tests.fakes import char_ngrams_env

pytestmark = pytest.mark.faults

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


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                found += [int(child), *_descendants(int(child))]
    return found


def _resident(pid: int) -> int:
    """Resident memory of a process and the processes it started (its preparing workers, say)."""
    total = 0
    for one in (pid, *_descendants(pid)):
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


# -- 2. some uploads hold a request for minutes --------------------------------------------------------
def _stopped_within(server: Server, seconds: float) -> float:
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


def test_a_long_single_line_text_is_read_in_the_background_in_bounded_memory(fake_seed_collection_dir, model_cache_dir,
                                                                            tmp_path_factory):
    server = Server(copy_of(fake_seed_collection_dir, tmp_path_factory, "long-line"), model_cache_dir, fake=True)
    try:
        watched = WatchedServer(server)
        with watched.watching() as watch:
            started = time.monotonic()
            response = send(server.url, [("line.txt", hostile.random_han_line(19 * MB))])
            answered = time.monotonic() - started
            job_url = job_of(server.url, response)
            # Long enough for the whole text to be cleaned, normalised and signed, the steps that held it all.
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and httpx.get(job_url, timeout=10).json()["status"] != "done":
                searched = httpx.get(server.url + "/api/search", params={"q": "营商环境", "k": 3}, timeout=10)
                assert searched.status_code == 200
                time.sleep(1)
        watched.assert_well(watch)
        assert answered < 5
    finally:
        if server.process.poll() is None:
            assert _stopped_within(server, 10) < 10


def test_a_large_batch_is_a_job_that_searches_run_beside_and_sigterm_keeps_what_it_acknowledged(
        fake_seed_collection_dir, model_cache_dir, tmp_path_factory):
    data = copy_of(fake_seed_collection_dir, tmp_path_factory, "large-batch")
    server = Server(data, model_cache_dir, fake=True)
    try:
        watched = WatchedServer(server)
        with watched.watching() as watch:
            response = send(server.url, [("many.jsonl", hostile.tiny_records_jsonl(100_000))])
            job_url = job_of(server.url, response)
            assert response.json()["status"] in ("queued", "running")
            # A small upload meanwhile is queued behind it, not held.
            small = send(server.url, [("small.txt", SPEECH.encode())], timeout=5)
            assert small.status_code == 202, small.text
            slowest, added = 0.0, 0
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                started = time.monotonic()
                assert httpx.get(server.url + "/api/search", params={"q": "改革开放", "k": 5}, timeout=10).status_code == 200
                slowest = max(slowest, time.monotonic() - started)
                job = httpx.get(job_url, timeout=10).json()
                assert job["status"] == "running" and job["counts"]["added"] >= added
                added = job["counts"]["added"]
                time.sleep(0.5)
        watched.assert_well(watch)
        assert added > 0, "the job added nothing in a minute"
        assert slowest < 2, f"a search took {slowest:.1f} s beside the job"
        stop_took = _stopped_within(server, 10)
    finally:
        if server.process.poll() is None:
            server.stop()
    assert stop_took < 10
    # Everything the job said it had added is there after a restart.
    server = Server(data, model_cache_dir, fake=True)
    try:
        assert document_count(server.url) >= 5 + added
    finally:
        server.stop()


# -- 3. a full disk ----------------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 64 MB tmpfs, unmounted at the end (root only: elsewhere the test is skipped)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.strip()}); test_disk_full_is_a_507 injects ENOSPC instead")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of the disk; returns the filler, whose removal frees them."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out:  # unbuffered: closing it must not flush what did not fit
        for size in (MB, 4096, 1):
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


DISK_FULL = "the disk holding the collection is full"


def test_a_full_disk_refuses_changes_plainly_and_the_server_starts_on_it(fake_seed_collection_dir, model_cache_dir,
                                                                          small_disk, tmp_path):
    data = small_disk / "collection"
    shutil.copytree(fake_seed_collection_dir, data)
    server = Server(data, model_cache_dir, log_dir=tmp_path, fake=True)
    try:
        first = final_report(server.url, [("before.txt", SPEECH.encode())])
        assert len(first["added"]) == 1
        filler = fill(small_disk)
        refused = send(server.url, [("during.txt", hostile.distinct_speech(1).encode())])
        assert refused.status_code == 507, refused.text
        assert DISK_FULL in refused.json()["error"]["message"]
        deleted = httpx.delete(f"{server.url}/api/documents/{first['added'][0]}", timeout=30)
        assert deleted.status_code == 507 and DISK_FULL in deleted.json()["error"]["message"]
        assert httpx.get(server.url + "/api/search", params={"q": "营商环境"}, timeout=30).status_code == 200
        (tmp_path / "more").mkdir()
        (tmp_path / "more" / "cli.txt").write_text(hostile.distinct_speech(2), encoding="utf-8")
        ingest = speechqa("ingest", str(tmp_path / "more"), data=data, cache=model_cache_dir)
        assert ingest.returncode != 0
        assert_no_traceback(ingest)
        assert ingest.stderr.strip().splitlines()[-1].startswith(f"error: {DISK_FULL}"), ingest.stderr
        server.process.kill()
        server.process.wait()
        server.log.close()

        server = Server(data, model_cache_dir, log_dir=tmp_path, fake=True)  # on the full disk
        health = httpx.get(server.url + "/healthz", timeout=10)
        assert health.status_code == 200 and health.json()["documents"] == 6, health.text
        assert httpx.get(server.url + "/api/search", params={"q": "营商环境"}, timeout=30).status_code == 200
        again = send(server.url, [("during.txt", hostile.distinct_speech(1).encode())])
        assert again.status_code == 507 and DISK_FULL in again.json()["error"]["message"]

        filler.unlink()
        after = final_report(server.url, [("after.txt", hostile.distinct_speech(3).encode())])
        assert len(after["added"]) == 1
        assert document_count(server.url) == 7
        assert httpx.get(f"{server.url}/api/documents/{first['added'][0]}", timeout=10).status_code == 200
    finally:
        if server.process.poll() is None:
            server.stop()


# -- 4. two writers ----------------------------------------------------------------------------------------
def _documents_by_hash(data: Path) -> dict[str, int]:
    with sqlite3.connect(data / "speechqa.sqlite") as db:
        rows = db.execute("SELECT content_hash, COUNT(*) FROM documents GROUP BY content_hash").fetchall()
    db.close()
    return dict(rows)


def distinct_paragraph_files(folder: Path) -> int:
    """paragraph_files less those nearly repeating an earlier one: which of two near-identical texts racing
    writers keep depends on which writes first, so only distinct texts have one right answer."""
    from qa.index.near_duplicates import NearDuplicateFinder
    from qa.text.shingles import minhash_signature

    paragraph_files(folder)
    finder = NearDuplicateFinder()
    for seed in SEEDS.glob("*.txt"):  # a short speech nearly repeats its one long paragraph
        finder.add(seed.name, minhash_signature(seed.read_text(encoding="utf-8")))
    for path in sorted(folder.iterdir()):
        signature = minhash_signature(path.read_text(encoding="utf-8").split("\n", 1)[1].strip())
        if finder.find(signature) is not None:
            path.unlink()
        else:
            finder.add(path.name, signature)
    return len(list(folder.iterdir()))


def test_an_upload_racing_a_cli_ingest_of_the_same_files_keeps_each_once(fake_seed_collection_dir, model_cache_dir,
                                                                        tmp_path_factory, tmp_path):
    files = tmp_path / "paragraphs"
    n = distinct_paragraph_files(files)
    data = copy_of(fake_seed_collection_dir, tmp_path_factory, "racing")
    server = Server(data, model_cache_dir, fake=True)
    try:
        env = writer_env(data, model_cache_dir, SPEECHQA_COMMIT_PASSAGES="4")
        cli = subprocess.Popen([*speechqa_command(fake=True), "ingest", str(files)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        uploads = [(path.name, path.read_bytes()) for path in sorted(files.iterdir())]
        reports = [final_report(server.url, uploads[i : i + 4]) for i in range(0, n, 4)]
        out, err = cli.communicate(timeout=600)
        assert cli.returncode == 0, err[-3000:]
        assert "Traceback" not in err
        assert all(not report["rejected"] for report in reports), reports
        assert document_count(server.url) == 5 + n
    finally:
        server.stop()
    assert set(_documents_by_hash(data).values()) == {1} and len(_documents_by_hash(data)) == 5 + n


def test_two_cli_ingests_at_once_keep_each_document_once(fake_seed_collection_dir, model_cache_dir, tmp_path_factory,
                                                        tmp_path):
    files = tmp_path / "paragraphs"
    n = distinct_paragraph_files(files)
    data = copy_of(fake_seed_collection_dir, tmp_path_factory, "two-clis")
    env = writer_env(data, model_cache_dir, SPEECHQA_COMMIT_PASSAGES="4")
    runs = [subprocess.Popen([*speechqa_command(fake=True), "ingest", str(files), "--json"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (_out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err[-3000:]
        assert "Traceback" not in err
    summaries = [json.loads(out.splitlines()[-1])["summary"] for out, _ in outputs]
    assert sum(s["added"] for s in summaries) == n
    assert sum(s["added"] + s["updated"] + s["duplicates"] for s in summaries) == 2 * n
    assert set(_documents_by_hash(data).values()) == {1} and len(_documents_by_hash(data)) == 5 + n


# -- 5. smaller ----------------------------------------------------------------------------------------------
def test_a_long_file_name_keeps_its_extension():
    from qa.ingest.readers import read_named
    from qa.types import RawDocument

    name = "关于" + "进一步优化营商环境" * 20 + "的讲话.docx"
    [document] = read_named(name, hostile.docx([SPEECH]))
    assert isinstance(document, RawDocument) and document.text == SPEECH
    assert document.source.endswith("进一步优化.docx") and len(document.source) == 120
