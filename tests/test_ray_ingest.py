"""`speechqa ingest --ray` into a `milvus-lite server` on loopback: killed midway with kill -9, rerun,
no passage twice and every document whole; then the collection answers like the embedded one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("ray")
pytest.importorskip("pymilvus")

from conftest import ROOT, SEEDS  # noqa: E402
from test_milvus import LiteServer  # noqa: E402

from embeddings.bundled import BUNDLED_MODEL_NAME as MODEL  # noqa: E402 - the Ray actors load the real model
from qa.index.milvus_backend import MilvusCollection  # noqa: E402
from qa.search.service import SearchRequest, SearchService  # noqa: E402


@pytest.fixture(scope="module")
def lite_server(tmp_path_factory):
    server = LiteServer(tmp_path_factory.mktemp("ray-milvus") / "data")
    yield server
    server.stop()


def _ingest(index: str, model_cache_dir, log_path) -> subprocess.Popen:
    env = {**os.environ, "SPEECHQA_CACHE": str(model_cache_dir),
           # one document per encoder call and 8 rows per write, so that there is a "midway" to kill at
           "SPEECHQA_COMMIT_PASSAGES": "1"}
    env.pop("RAY_ADDRESS", None)
    log = open(log_path, "ab")
    return subprocess.Popen([sys.executable, "-m", "qa.cli", "ingest", str(SEEDS), "--index", index, "--ray"],
                            env=env, cwd=str(ROOT), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _kill_session(process: subprocess.Popen) -> None:
    """kill -9 the ingest and every process it started (Ray's daemons and workers share its session)."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
    for _ in range(50):
        left = subprocess.run(["ps", "-o", "pid=", "-s", str(process.pid)], capture_output=True, text=True).stdout.split()
        if not left:
            return
        for pid in left:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


def test_a_killed_ray_ingest_resumes_without_duplicates_and_answers(lite_server, seed_service_by_passage, encoder,
                                                                     model_cache_dir, tmp_path, one_ray_cluster_at_a_time):
    index = lite_server.index + "/ray_seeds"
    expected = {p.chunk_id for d, _ in seed_service_by_passage.documents(0, 50)[0] for p in seed_service_by_passage.document(d.doc_id)[1]}
    probe = None
    first = _ingest(index, model_cache_dir, tmp_path / "ingest.log")
    try:
        deadline = time.monotonic() + 240
        written = 0
        while time.monotonic() < deadline and first.poll() is None:
            if probe is None:
                try:
                    probe = MilvusCollection.open(index, MODEL)
                except Exception:  # the collection is created once the ingest is under way
                    time.sleep(0.2)
                    continue
            written = probe.count_passages()
            if written:
                break
            time.sleep(0.05)
        assert first.poll() is None, (tmp_path / "ingest.log").read_text(errors="replace")
    finally:
        _kill_session(first)
    assert 0 < written < len(expected), "the ingest was not caught midway"

    second = _ingest(index, model_cache_dir, tmp_path / "ingest.log")
    assert second.wait(240) == 0, (tmp_path / "ingest.log").read_text(errors="replace")
    store = probe.passages
    rows = store.client.query(store.name, filter="", output_fields=["chunk_id", "doc_id", "n_passages"], limit=16384)
    chunk_ids = [row["chunk_id"] for row in rows]
    assert len(chunk_ids) == len(set(chunk_ids)) == store.count_passages()
    assert set(chunk_ids) == expected
    assert store.count_documents() == 5
    assert store.titles_without_vectors(MODEL) == []  # embedded by the actors with the passages

    # The same best answer as the embedded collection. (Lower ranks may differ here: Milvus Lite keeps
    # the rows the rerun overwrote in its BM25 statistics until it compacts.)
    service = SearchService(probe, encoder)
    for question in ("招商引资进度为什么落后", "腊口北坑大坑工业区块规划总用地多少", "深入开展平安创建活动"):
        ours = service.search(SearchRequest(query=question, k=3)).hits[0].passage.chunk_id
        assert ours == seed_service_by_passage.search(SearchRequest(query=question, k=3)).hits[0].passage.chunk_id, question
    probe.close()
