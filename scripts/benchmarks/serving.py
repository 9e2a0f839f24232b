"""Through a real server on loopback: search latency and memory, and what uploads and deletions cost."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from scripts.benchmarks.corpus import FRESH_FROM, ROOT, BenchError, distinct_queries, probe_speeches, story_lines
from scripts.benchmarks.timing import latency_summary, rss_mb

if TYPE_CHECKING:
    import httpx

    from qa.settings import Settings

SAMPLE_SPEECHES = ROOT / "qa" / "sample_speeches"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(directory: Path, settings: Settings) -> Iterator[tuple[subprocess.Popen, str]]:
    """`speechqa serve` over `directory` on a free loopback port: (process, base URL) once /healthz answers."""
    import httpx

    port = _free_port()
    env = {**os.environ, "SPEECHQA_DATA": str(directory), "SPEECHQA_CACHE": str(settings.cache_dir)}
    env.pop("SPEECHQA_TOKEN", None)
    log = tempfile.TemporaryFile()  # read only when the server exits early, to say why
    server = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if server.poll() is not None:
                log.seek(0)
                raise BenchError(f"the server over {directory} exited: {log.read().decode(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                raise BenchError(f"the server over {directory} did not answer /healthz in 300 s")
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code in (200, 503):
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        yield server, url
    finally:
        server.terminate()
        with suppress(subprocess.TimeoutExpired):
            server.wait(30)
        server.kill()  # nothing to do once it has exited
        log.close()


def _search_hits(http: httpx.Client, query: str, k: int = 10, mode: str = "hybrid") -> list[dict]:
    response = http.get("/api/search", params={"q": query, "k": k, "mode": mode})
    response.raise_for_status()
    return response.json()["results"]


def _warm_up(url: str, queries: list[str]) -> None:
    import httpx

    with httpx.Client(base_url=url, timeout=120) as http:
        for query in queries:
            _search_hits(http, query)


# -- search latency and memory -----------------------------------------------------------------------
def collection_payload_mb(directory: Path) -> dict:
    """What the collection itself weighs: vectors (as float32) plus passage text (UTF-8)."""
    from qa.index.collection import STORE_FILE, read_manifest

    manifest = read_manifest(directory)
    with sqlite3.connect(directory / STORE_FILE) as db:
        text_bytes = db.execute("SELECT COALESCE(SUM(LENGTH(CAST(text AS BLOB))), 0) FROM passages").fetchone()[0]
    vector_bytes = manifest["passages"] * manifest["dim"] * 4
    return {"passages": manifest["passages"], "vectors_mb": round(vector_bytes / 2**20, 1),
            "text_mb": round(text_bytes / 2**20, 1), "index": manifest["index"]}


def run_clients(url: str, clients: int, queries: list[str]) -> dict:
    """Each client sends its share of the queries one after another; every query is sent once."""
    import httpx

    latencies: list[float] = []
    lock = threading.Lock()

    def client(share: list[str]) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for query in share:
                start = time.perf_counter()
                _search_hits(http, query)
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=client, args=(queries[n::clients],)) for n in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    if len(latencies) < len(queries):
        raise BenchError(f"{len(queries) - len(latencies)} of {len(queries)} searches failed")
    return {**latency_summary(latencies), "requests_per_s": round(len(latencies) / wall, 1)}


def _peak_memory_on_sample_speeches(settings: Settings, queries: list[str]) -> float:
    """Peak RSS of a server on the five sample speeches after the same queries: runtime, model, segmenter.

    What the big collection's server holds beyond this is what the collection itself costs.
    """
    from qa.cli import run_ingest

    with tempfile.TemporaryDirectory(prefix="speechqa-bench-samples-") as samples:
        run_ingest(replace(settings, data_dir=Path(samples)), [SAMPLE_SPEECHES])
        with running_server(Path(samples), settings) as (server, url):
            _warm_up(url, queries)
            return rss_mb(server.pid, "VmHWM")


def bench_api(directory: Path, settings: Settings, stories: Path, requests_per_client: int, warm: int = 40,
              fresh_from: int = FRESH_FROM) -> dict:
    """Search latency of 1 and then 8 concurrent clients, every query distinct, and the server's memory."""
    wanted = warm + 9 * requests_per_client
    pool = distinct_queries(stories, wanted, fresh_from)
    if len(pool) < wanted:
        raise BenchError(f"{len(pool)} distinct queries for {wanted} ({warm} to warm up, {requests_per_client} x 9 "
                         f"to time): fewer requests, or a corpus with more stories after --fresh-from {fresh_from}")
    warming, measured = pool[:warm], pool[warm:]
    with running_server(directory, settings) as (server, url):
        out: dict = {"collection": collection_payload_mb(directory), "distinct_queries": len(pool),
                     "server_rss_after_start_mb": round(rss_mb(server.pid), 1)}
        _warm_up(url, warming)
        out["clients_1"] = run_clients(url, 1, measured[:requests_per_client])
        out["clients_8"] = run_clients(url, 8, measured[requests_per_client:])
        out["server_peak_rss_mb"] = round(rss_mb(server.pid, "VmHWM"), 1)
    baseline = _peak_memory_on_sample_speeches(settings, warming + measured[::9])
    out["server_peak_rss_sample_collection_mb"] = round(baseline, 1)
    out["collection_share_of_server_mb"] = round(out["server_peak_rss_mb"] - baseline, 1)
    return out


# -- uploads and deletions ---------------------------------------------------------------------------
def _load(url: str, clients: int, seconds: float, queries: list[str],
          writer: Callable[[threading.Event], None] | None = None) -> dict:
    """`clients` searchers for `seconds` (and a writer, if given, beside them); latencies and errors."""
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def searcher(offset: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            for i in itertools.count(offset, clients):
                if stop.is_set():
                    return
                start = time.perf_counter()
                try:
                    status: int | str = http.get("/api/search", params={"q": queries[i % len(queries)], "k": 10}).status_code
                except httpx.HTTPError as exc:
                    status = repr(exc)
                with lock:
                    latencies.append((time.perf_counter() - start) * 1000)
                    if status != 200:
                        errors.append(str(status))

    threads = [threading.Thread(target=searcher, args=(n,)) for n in range(clients)]
    if writer is not None:
        threads.append(threading.Thread(target=writer, args=(stop,)))
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return {**latency_summary(latencies), "errors": len(errors), "error_samples": errors[:5]}


def _upload(http: httpx.Client, name: str, text: str) -> list[str]:
    response = http.post("/api/documents", files={"files": (name, text.encode("utf-8"), "text/plain")})
    response.raise_for_status()
    return response.json().get("added") or []


def _changes_one_by_one(http: httpx.Client, probes: list[tuple[str, str]]) -> dict:
    """Upload each probe, wait until a search finds it, delete it, check a search no longer finds it."""
    upload, searchable, delete = [], [], []
    violations = 0
    for name, text in probes:
        start = time.perf_counter()
        [doc_id] = _upload(http, name, text)
        returned = time.perf_counter()
        upload.append((returned - start) * 1000)
        probe_query = text.split("\n", 1)[0].split()[-1]
        while doc_id not in {hit["doc_id"] for hit in _search_hits(http, probe_query, 100, "lexical")}:
            if time.perf_counter() - returned > 30:
                raise BenchError(f"{doc_id} was not searchable 30 s after its upload returned")
        searchable.append((time.perf_counter() - returned) * 1000)
        start = time.perf_counter()
        http.delete(f"/api/documents/{doc_id}").raise_for_status()
        delete.append((time.perf_counter() - start) * 1000)
        violations += doc_id in {hit["doc_id"] for hit in _search_hits(http, probe_query, 100, "lexical")}
    return {"upload_returns": latency_summary(upload), "upload_to_searchable": latency_summary(searchable),
            "delete_returns": latency_summary(delete), "deleted_yet_found": violations}


def _ingest_beside(collection: Path, settings: Settings, stories: Path, n: int, fresh_from: int, work: Path) -> dict:
    """The same new stories through the CLI's ingest into `collection` and into an empty one.

    Stories after `fresh_from`, which a bench collection of the first stories does not hold, so both runs
    embed them all. Three rounds of new stories, the order alternating, so a busy moment of the machine
    does not fall on one side only.
    """
    from qa.cli import run_ingest

    timings: dict[str, list[float]] = {"into_empty_s": [], "into_collection_s": []}
    for round_ in range(3):
        batch = work / f"stories-{round_}.jsonl"
        batch.write_text("".join(story_lines(stories, n, fresh_from + round_ * n)), encoding="utf-8")
        runs = [("into_empty_s", work / f"empty-{round_}"), ("into_collection_s", collection)]
        for label, target in runs if round_ % 2 == 0 else runs[::-1]:
            start = time.perf_counter()
            run_ingest(replace(settings, data_dir=target), [batch])
            timings[label].append(round(time.perf_counter() - start, 1))
    medians = {label: statistics.median(values) for label, values in timings.items()}
    return {"stories": n, **medians, "runs": timings,
            "overhead_pct": round(100 * (medians["into_collection_s"] / medians["into_empty_s"] - 1), 1)}


def bench_changes(directory: Path, settings: Settings, stories: Path, changes: int, load_seconds: float,
                  ingest_stories: int, warm: int = 40, fresh_from: int = FRESH_FROM) -> dict:
    """Uploads and deletions on a copy of `directory` (the collection given is left as it was): upload ->
    searchable, upload and delete return times, memory after `changes` of them, 8 searchers without and
    with 1 writer, recall@10 afterwards; optionally a CLI ingest into it against one into an empty one."""
    import httpx

    from embeddings.loader import model_name
    from qa.index.collection import Collection

    probes = probe_speeches(stories, changes + 40, fresh_from)
    if len(probes) <= changes:
        raise BenchError(f"{len(probes)} probe speeches for {changes} changes and a writer: fewer --changes, or a "
                         f"corpus with more stories after --fresh-from {fresh_from}")
    queries = distinct_queries(stories, warm + 360, fresh_from)
    warming, searching = queries[:warm], queries[warm:]
    if not searching:
        raise BenchError(f"no distinct queries left after {warm} to warm up")
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="speechqa-bench-changes-") as tmp:
        data = Path(tmp) / "collection"
        shutil.copytree(directory, data)
        # Opened once here, so a collection of an older format is migrated before the server starts and the
        # server's memory is what serving costs, not what a one-off rebuild left behind.
        opened = Collection.open(data, model_name(settings))
        opened.load_indexes()
        opened.close()
        with running_server(data, settings) as (server, url):
            with httpx.Client(base_url=url, timeout=120) as http:
                health = http.get("/healthz").json()
                out["collection"] = {"documents": health["documents"], "passages": health["chunks"], "index": health["index"]}
                _warm_up(url, warming)
                rss_before = rss_mb(server.pid)
                out.update(_changes_one_by_one(http, probes[:changes]))
                rss_after = rss_mb(server.pid)
            out["memory_mb"] = {"before": round(rss_before, 1), "after": round(rss_after, 1),
                                "change_pct": round(100 * (rss_after - rss_before) / rss_before, 1)}

            def writer(stop: threading.Event) -> None:
                with httpx.Client(base_url=url, timeout=120) as http:
                    for name, text in itertools.cycle(probes[changes:]):
                        if stop.is_set():
                            return
                        for doc_id in _upload(http, name, text):
                            http.delete(f"/api/documents/{doc_id}")

            out["search_8_clients"] = _load(url, 8, load_seconds, searching)
            out["search_8_clients_1_writer"] = _load(url, 8, load_seconds, searching, writer)
            with httpx.Client(base_url=url, timeout=60) as http:
                if out["collection"]["index"] != "flat":
                    # Asking starts a fresh measurement in the background when enough changed; the next answer has it.
                    http.get("/healthz")
                    time.sleep(20)
                out["recall_at_10"] = http.get("/healthz").json().get("index_recall_at_10")
        if ingest_stories:
            out["cli_ingest"] = _ingest_beside(data, settings, stories, ingest_stories, fresh_from, Path(tmp))
    return out
