"""A soak through a real server: searching clients and one writer for minutes, then what went wrong and what grew."""

from __future__ import annotations

import itertools
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from scripts.benchmarks.corpus import FRESH_FROM, BenchError, distinct_queries, probe_speeches
from scripts.benchmarks.serving import _warm_up, running_server
from scripts.benchmarks.timing import latency_summary, rss_mb

if TYPE_CHECKING:
    from qa.settings import Settings

# How often the server's memory is read during the soak (its trace goes in the results).
MEMORY_EVERY_S = 10


def bench_soak(directory: Path, settings: Settings, stories: Path, seconds: float, clients: int = 4,
               warm: int = 40, fresh_from: int = FRESH_FROM, settle_s: float = 60) -> dict:
    """`clients` searchers and 1 writer (an upload, then the deletion of what it added, again and again) for
    `seconds` on a copy of `directory`: every request's status, search and change latencies, and the server's
    memory from the end of the warm-up to the end of the soak.

    The same load runs `settle_s` first, unmeasured: the server's bounded caches (SQLite's page cache of
    each worker thread's connection, query vectors) and the heap of each worker thread fill in its first
    minutes, which is not what a soak looks for. Its memory at idle, before them, is reported too.
    """
    import httpx

    queries = distinct_queries(stories, warm + 2000, fresh_from)
    probes = probe_speeches(stories, 200, fresh_from)
    if len(queries) <= warm or not probes:
        raise BenchError(f"{len(queries)} distinct queries and {len(probes)} probe speeches: a corpus with more "
                         f"stories after --fresh-from {fresh_from}")
    warming, searching = queries[:warm], queries[warm:]
    searches: list[float] = []
    changes: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def record(latencies: list[float], started: float, problem: str | None) -> None:
        with lock:
            latencies.append((time.perf_counter() - started) * 1000)
            if problem is not None:
                errors.append(problem)

    def searcher(offset: int, url: str) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            for i in itertools.count(offset, clients):
                if stop.is_set():
                    return
                started = time.perf_counter()
                try:
                    status = http.get("/api/search", params={"q": searching[i % len(searching)], "k": 10}).status_code
                    problem = None if status == 200 else f"search answered {status}"
                except httpx.HTTPError as exc:
                    problem = f"search: {exc!r}"
                record(searches, started, problem)

    def writer(url: str) -> None:
        with httpx.Client(base_url=url, timeout=120) as http:
            for name, text in itertools.cycle(probes):
                if stop.is_set():
                    return
                started = time.perf_counter()
                try:
                    added = http.post("/api/documents", files={"files": (name, text.encode("utf-8"), "text/plain")})
                    problem = None if added.status_code == 200 else f"upload answered {added.status_code}: {added.text[:200]}"
                    for doc_id in added.json().get("added", []) if problem is None else []:
                        deleted = http.delete(f"/api/documents/{doc_id}")
                        if deleted.status_code != 200:
                            problem = f"delete answered {deleted.status_code}: {deleted.text[:200]}"
                except httpx.HTTPError as exc:
                    problem = f"change: {exc!r}"
                record(changes, started, problem)

    with tempfile.TemporaryDirectory(prefix="speechqa-soak-") as tmp:
        data = Path(tmp) / "collection"
        shutil.copytree(directory, data)  # the collection given is left as it was
        with running_server(data, settings) as (server, url):
            health = httpx.get(url + "/healthz", timeout=60).json()
            _warm_up(url, warming)
            idle = round(rss_mb(server.pid), 1)
            threads = [threading.Thread(target=searcher, args=(n, url)) for n in range(clients)]
            threads.append(threading.Thread(target=writer, args=(url,)))
            for thread in threads:
                thread.start()
            time.sleep(settle_s)
            with lock:  # what the settling load did is not the soak's
                searches.clear()
                changes.clear()
                settling_errors = list(errors)
                errors.clear()
            memory = [(0.0, round(rss_mb(server.pid), 1))]
            started = time.monotonic()
            while (elapsed := time.monotonic() - started) < seconds:
                time.sleep(min(MEMORY_EVERY_S, seconds - elapsed))
                memory.append((round(time.monotonic() - started, 1), round(rss_mb(server.pid), 1)))
            stop.set()
            for thread in threads:
                thread.join()
            # Merges the writer's changes started finish in the background; the end is read once they have.
            time.sleep(MEMORY_EVERY_S)
            end = round(rss_mb(server.pid), 1)
            peak = round(rss_mb(server.pid, "VmHWM"), 1)
            alive = server.poll() is None
    start = memory[0][1]
    return {"collection": {"documents": health["documents"], "passages": health["chunks"], "index": health["index"]},
            "seconds": seconds, "clients": clients, "writers": 1, "server_alive_at_end": alive,
            "settle_s": settle_s, "settling_errors": len(settling_errors), "settling_error_samples": settling_errors[:5],
            "errors": len(errors), "error_samples": errors[:5],
            "search": latency_summary(searches), "change": latency_summary(changes),
            "memory_mb": {"idle": idle, "start": start, "end": end, "peak": peak,
                          "change_pct": round(100 * (end - start) / start, 1),
                          "change_from_idle_pct": round(100 * (end - idle) / idle, 1),
                          "trace": memory}}
