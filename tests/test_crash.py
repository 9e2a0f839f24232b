"""kill -9 at awkward moments (issue 11 item 2): whatever the sequence, the collection opens and answers
(with the n-gram encoder: what is tested is the collection, not the model)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import Server, documents_in, paragraph_files, speechqa_command
from tests.fakes import char_ngrams_env

ROOT = Path(__file__).parents[1]


def _kill_ingest_when(command, env, ready) -> None:
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not ready() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the ingest ended before the moment to kill it"
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_two_kills_with_a_start_in_between_leave_a_collection_that_opens_and_answers(tmp_path, model_cache_dir):
    files = tmp_path / "paragraphs"
    n_files = paragraph_files(files)
    data = tmp_path / "collection"
    env = char_ngrams_env({**os.environ, "SPEECHQA_CACHE": str(model_cache_dir), "SPEECHQA_DATA": str(data),
                           "SPEECHQA_COMMIT_PASSAGES": "4"})
    ingest = [*speechqa_command(fake=True), "ingest", str(files)]

    # 1. Killed before its first commit: a store with no documents.
    _kill_ingest_when(ingest, env, lambda: documents_in(data) == 0)
    assert documents_in(data) == 0
    # 2. A server starts on the empty collection (this wrote "dim": 0 before) and stops.
    server = Server(data, model_cache_dir, log_dir=tmp_path, fake=True)
    try:
        assert httpx.get(server.url + "/healthz", timeout=10).json()["chunks"] == 0
    finally:
        server.stop()
    assert json.loads((data / "manifest.json").read_text())["dim"] is None
    # 3. The next ingest is killed just after its first commit.
    _kill_ingest_when(ingest, env, lambda: documents_in(data) >= 1)
    done = documents_in(data)
    assert 1 <= done < n_files

    # 4. The server opens and answers from what the store holds; so does the CLI.
    server = Server(data, model_cache_dir, log_dir=tmp_path, fake=True)
    try:
        health = httpx.get(server.url + "/healthz", timeout=10).json()
        answer = httpx.get(server.url + "/api/search", params={"q": "工业经济", "k": 3}, timeout=30)
    finally:
        server.stop()
    assert health["documents"] == done and health["chunks"] > 0
    assert answer.status_code == 200 and answer.json()["results"]
    searched = subprocess.run([*speechqa_command(fake=True), "search", "工业经济", "--k", "2", "--json"], env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert searched.returncode == 0, searched.stderr
    assert len(searched.stdout.splitlines()) == 2

    # 5. Running the same ingest again finishes the job.
    finished = subprocess.run(ingest, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    assert documents_in(data) == n_files and f"{n_files - done} added" in finished.stdout
    manifest = json.loads((data / "manifest.json").read_text())
    assert manifest["dim"] == 384 and manifest["passages"] > n_files - 1
