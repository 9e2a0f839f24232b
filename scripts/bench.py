"""speechqa at collection scale: one command, a table on stdout, the figures as JSON.

Parts (each can be skipped or sized by its flag):
  clean    cleaning docs/s over the first N xwlb stories (read -> clean -> metadata -> hash)
  embed    passages/s of the default encoder on the CPU over passages of the first N stories, and on the
           GPU too when there is one
  ingest   end-to-end ingest of N stories into a fresh collection (cleaning to index)
  api      search latency p50/p95/p99 over loopback with 1 and 8 concurrent clients, each request a distinct
           query; server peak memory, and a server's peak on the five sample speeches (model, runtime and
           segmenter without a collection to speak of): the difference is what the collection costs
  vectors  vector search ms/query and recall@10 vs exact float32 search at the given sizes (clustered random
           vectors), for the exact index (half-precision vectors) and HNSW
  changes  on a copy of --changes-collection, through a real server: upload -> searchable latency, upload and
           delete return times, memory after --changes uploads + deletions, search p99 of 8 clients without and
           with 1 writer uploading and deleting, recall@10; optionally a CLI ingest into it vs into an empty one
  phrase   phrase timeline latency p50 over a store of xwlb stories (built once, without vectors: the timeline
           reads only the store and its trigram index), the index's size on disk and the memory it takes

Example:
    .venv/bin/python scripts/bench.py --clean 10000 --embed 500 --ingest 0 --api-collection ~/sqa-20k --vectors 100000,1000000
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

XWLB = Path("/work/shared/corpus/xwlb/stories.jsonl.gz")
QUERIES = [
    "招商引资进度为什么落后", "县经商局要协调调度哪些生产要素", "深入开展平安创建活动", "如何加快工业发展",
    "固定资产投资统计口径是怎么调整的", "驻企干部应该遵循什么工作原则", "乡村振兴战略", "疫情防控和经济社会发展",
    "高质量发展", "What should companies do about saving energy?", "創建市級、國家高新區", "对工作推进不力的单位要通报批评",
    "生态环境保护", "科技创新", "中央经济工作会议", "脱贫攻坚",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# -- clean -------------------------------------------------------------------------------------------
def bench_clean(n: int, runs: int) -> dict:
    from scripts.bench_clean import run_once

    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        docs, _, _ = run_once(XWLB, n)
        rates.append(docs / (time.perf_counter() - start))
    return {"records": n, "docs_per_s_runs": [round(r) for r in rates], "docs_per_s": round(statistics.median(rates))}


# -- embed -------------------------------------------------------------------------------------------
def story_passages(n: int) -> list[str]:
    from qa.ingest.chunking import chunk_text
    from qa.ingest.cleaning import clean_text
    from qa.ingest.readers import read_path
    from qa.types import RawDocument

    passages = []
    for record in itertools.islice(read_path(XWLB), n):
        if isinstance(record, RawDocument):
            passages.extend(chunk.text for chunk in chunk_text(clean_text(record.text)))
    return passages


def bench_embed(n_stories: int, runs: int, settings) -> dict:
    from embeddings.loader import load_encoder
    from qa.ingest.pipeline import embed_text

    passages = [embed_text(p) for p in story_passages(n_stories)]
    encoder = load_encoder(settings)
    encoder.embed(passages[:64], "passage", settings.batch_size)  # first run allocates
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        encoder.embed(passages, "passage", settings.batch_size)
        rates.append(len(passages) / (time.perf_counter() - start))
    out = {
        "stories": n_stories, "passages": len(passages), "mean_chars": round(sum(map(len, passages)) / len(passages)),
        "backend": encoder.backend, "device": encoder.device,
        "passages_per_s_runs": [round(r, 1) for r in rates], "passages_per_s": round(statistics.median(rates), 1),
    }
    start = time.perf_counter()
    for query in QUERIES:
        encoder.embed_query(query)
    out["query_embed_ms"] = round((time.perf_counter() - start) * 1000 / len(QUERIES), 2)
    return out


# -- ingest ------------------------------------------------------------------------------------------
def bench_ingest(n: int, settings) -> dict:
    from dataclasses import replace

    from qa.cli import run_ingest

    with tempfile.TemporaryDirectory(prefix="speechqa-bench-") as tmp:
        start = time.perf_counter()
        report, total = run_ingest(replace(settings, data_dir=Path(tmp)), [XWLB], limit=n)
        seconds = time.perf_counter() - start
        from qa.index.collection import read_manifest

        passages = read_manifest(Path(tmp)).get("passages", 0)
    return {"stories": n, "documents": total, "passages": passages, "seconds": round(seconds, 1),
            "docs_per_s": round(total / seconds, 1), "passages_per_s": round(passages / seconds, 1)}


# -- api ---------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def collection_payload_mb(directory: Path) -> dict:
    """What the collection itself weighs: vectors plus passage text (UTF-8)."""
    import sqlite3

    from qa.index.collection import read_manifest

    manifest = read_manifest(directory)
    with sqlite3.connect(directory / "speechqa.sqlite") as db:
        text_bytes = db.execute("SELECT COALESCE(SUM(LENGTH(CAST(text AS BLOB))), 0) FROM passages").fetchone()[0]
    vector_bytes = manifest["passages"] * manifest["dim"] * 4
    return {"passages": manifest["passages"], "vectors_mb": round(vector_bytes / 2**20, 1),
            "text_mb": round(text_bytes / 2**20, 1), "index": manifest["index"]}


def api_queries(n: int) -> list[str]:
    """n distinct realistic queries: the fixed list, the dev questions, then xwlb headlines.

    The headlines come from stories far past any --limit used to build a bench collection, so no
    query is the text of a stored passage, and none repeats: every request pays the full cost.
    """
    seen = dict.fromkeys(QUERIES)
    dev = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"
    if dev.exists():
        seen.update(dict.fromkeys(json.loads(line)["query"] for line in dev.read_text(encoding="utf-8").splitlines() if line.strip()))
    import gzip
    import re

    with gzip.open(XWLB, "rt", encoding="utf-8") as lines:
        for line in itertools.islice(lines, 60_000, None):
            if len(seen) >= n:
                break
            title = re.sub(r"^(\[[^]]*\]|【[^】]*】)+", "", json.loads(line).get("title") or "").strip()
            if len(title) >= 6:
                seen.setdefault(title)
    return list(seen)[:n]


def _start_server(directory: Path, settings) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "SPEECHQA_DATA": str(directory), "SPEECHQA_CACHE": str(settings.cache_dir)}
    server = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code in (200, 503):
                return server, url
        except httpx.HTTPError:
            time.sleep(0.5)
    server.terminate()
    raise RuntimeError("the server did not come up")


def _run_clients(url: str, clients: int, queries: list[str]) -> dict:
    """Each client sends its share of the queries one after another; every query is sent once."""
    import httpx

    latencies: list[float] = []
    lock = threading.Lock()
    shares = [queries[n::clients] for n in range(clients)]

    def client(share: list[str]) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for query in share:
                start = time.perf_counter()
                response = http.get("/api/search", params={"q": query, "k": 10})
                elapsed = (time.perf_counter() - start) * 1000
                response.raise_for_status()
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    return {"requests": len(latencies), "p50_ms": round(percentile(latencies, 0.5), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1), "p99_ms": round(percentile(latencies, 0.99), 1),
            "requests_per_s": round(len(latencies) / wall, 1)}


def _server_memory_on_sample_collection(settings, warm_queries: list[str]) -> float:
    """Peak RSS of a server on the five sample speeches after the same queries: runtime, model, segmenter.

    What the big collection's server holds beyond this is what the collection itself costs.
    """
    from dataclasses import replace

    import httpx

    from qa.cli import run_ingest

    with tempfile.TemporaryDirectory(prefix="speechqa-bench-seeds-") as seeds:
        run_ingest(replace(settings, data_dir=Path(seeds)), [ROOT / "qa" / "sample_speeches"])
        server, url = _start_server(Path(seeds), settings)
        try:
            with httpx.Client(base_url=url, timeout=30) as http:
                for query in warm_queries:
                    http.get("/api/search", params={"q": query})
            return _rss_mb(server.pid, "VmHWM")
        finally:
            server.terminate()
            server.wait(10)


def bench_api(directory: Path, settings, requests_per_client: int) -> dict:
    import httpx

    pool = api_queries(40 + 9 * requests_per_client)
    warm, measured = pool[:40], pool[40:]
    server, url = _start_server(directory, settings)
    try:
        out: dict = {"collection": collection_payload_mb(directory), "server_rss_after_start_mb": round(_rss_mb(server.pid, "VmRSS"), 1),
                     "distinct_queries": len(pool)}
        with httpx.Client(base_url=url, timeout=30) as http:
            for query in warm:
                http.get("/api/search", params={"q": query})
        out["clients_1"] = _run_clients(url, 1, measured[:requests_per_client])
        out["clients_8"] = _run_clients(url, 8, measured[requests_per_client : 9 * requests_per_client])
        out["server_peak_rss_mb"] = round(_rss_mb(server.pid, "VmHWM"), 1)
    finally:
        server.terminate()
        server.wait(10)
    baseline = _server_memory_on_sample_collection(settings, warm + measured[: 9 * requests_per_client : 9])
    out["server_peak_rss_sample_collection_mb"] = round(baseline, 1)
    out["collection_share_of_server_mb"] = round(out["server_peak_rss_mb"] - baseline, 1)
    return out


# -- phrase ------------------------------------------------------------------------------------------
# Formulations of different ages and frequencies; each is timed as the whole GET /api/phrase work
# (index lookup, exact scan of the candidates, series, the first page of occurrences).
PHRASES = ["新质生产力", "人类命运共同体", "精准扶贫", "供给侧结构性改革", "一带一路", "绿水青山就是金山银山", "乡村振兴",
           "全过程人民民主", "高质量发展", "两个维护"]
SHORT_PHRASE = "两会"


def build_phrase_store(directory: Path, n: int | None) -> dict:
    """A store of the first n xwlb stories (all when None): cleaned and chunked as ingest does, no vectors."""
    from qa.index.store import PassageStore, StoredPassage
    from qa.ingest.chunking import chunk_text
    from qa.ingest.pipeline import build_document, text_hash
    from qa.ingest.readers import read_path
    from qa.types import Document, Passage, RawDocument

    directory.mkdir(parents=True, exist_ok=True)
    store = PassageStore(directory / "speechqa.sqlite")
    started = time.perf_counter()
    seen: set[str] = set()
    batch: list = []
    documents = 0
    for record in itertools.islice(read_path(XWLB), n):
        built = build_document(record) if isinstance(record, RawDocument) else None
        if not isinstance(built, Document) or built.content_hash in seen:
            continue
        seen.add(built.content_hash)
        passages = [StoredPassage(Passage(f"c-{built.doc_id[2:]}-{i}", built.doc_id, i, c.text, c.char_start, c.char_end,
                                          c.section), text_hash(c.text), "")
                    for i, c in enumerate(chunk_text(built.text))]
        batch.append((built, passages, None))
        documents += 1
        if len(batch) >= 2000:
            store.add_documents(batch, {}, "none")
            batch = []
    if batch:
        store.add_documents(batch, {}, "none")
    store.close()
    return {"documents": documents, "build_s": round(time.perf_counter() - started, 1)}


def _rss_self_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench_phrase(directory: Path, n: int | None, runs: int) -> dict:
    import sqlite3

    from qa.index.store import PassageStore
    from qa.search.phrase import PhraseRequest, phrase_timeline

    out: dict = {}
    if not (directory / "speechqa.sqlite").exists():
        out["built"] = build_phrase_store(directory, n)
    path = directory / "speechqa.sqlite"
    with sqlite3.connect(path) as db:
        sizes = dict(db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
    index_bytes = sum(size for name, size in sizes.items() if name.startswith("phrase_"))
    rss_before = _rss_self_mb()
    store = PassageStore(path)
    out["documents"] = store.count_documents()
    started = time.perf_counter()
    phrase_timeline(store, PhraseRequest("预热一下"))  # fills the index in when the store predates it
    out["first_query_s"] = round(time.perf_counter() - started, 2)
    # Shorter than a trigram: found through the trigrams that begin with it (qa.index.phrase_index).
    started = time.perf_counter()
    short = phrase_timeline(store, PhraseRequest(SHORT_PHRASE))
    out["short_phrase"] = {"phrase": SHORT_PHRASE, "documents": short.total_documents,
                           "seconds": round(time.perf_counter() - started, 2)}
    rows = {}
    all_times: list[float] = []
    for phrase in PHRASES:
        times = []
        for _ in range(max(runs, 3)):
            start = time.perf_counter()
            timeline = phrase_timeline(store, PhraseRequest(phrase))
            times.append((time.perf_counter() - start) * 1000)
        all_times.extend(times)
        rows[phrase] = {"documents": timeline.total_documents, "occurrences": timeline.total_occurrences,
                        "p50_ms": round(statistics.median(times), 1)}
    rss_growth = _rss_self_mb() - rss_before
    store.close()
    out.update({
        "phrases": rows,
        "p50_ms": round(statistics.median(all_times), 1),
        "index_mb": round(index_bytes / 1e6, 1),
        "store_mb": round(os.path.getsize(path) / 1e6, 1),
        "documents_text_mb": round(sizes.get("documents", 0) / 1e6, 1),
        "rss_growth_mb": round(rss_growth, 1),
    })
    return out


# -- vectors -----------------------------------------------------------------------------------------
def clustered_unit_vectors(n: int, dim: int, seed: int, n_clusters: int = 2000):
    """Gaussian mixture on the sphere: real embeddings cluster by topic; uniform random vectors do not."""
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        labels = rng.integers(0, n_clusters, stop - start)
        block = centres[labels] + 0.6 * rng.standard_normal((stop - start, dim)).astype(np.float32)
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def exact_top10(base, queries):
    """The true top 10 of each query by float32 inner product, computed a block of rows at a time."""
    import numpy as np

    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    best = np.zeros((len(queries), 0), dtype=np.float32)
    for start in range(0, len(base), 100_000):
        scores = queries @ base[start : start + 100_000].T
        best = np.concatenate([best, scores], axis=1)
        best_ids = np.concatenate([best_ids, np.broadcast_to(np.arange(start, start + scores.shape[1]), scores.shape)], axis=1)
        keep = np.argsort(-best, axis=1)[:, :10]
        best, best_ids = np.take_along_axis(best, keep, 1), np.take_along_axis(best_ids, keep, 1)
    return list(best_ids)


def bench_vectors(sizes: list[int], dim: int = 384, n_queries: int = 200) -> dict:
    import numpy as np

    from qa.index.vector_index import VectorIndex

    out = {}
    for n in sizes:
        data = clustered_unit_vectors(n + n_queries, dim, seed=n)
        base, queries = data[:n], data[n:]
        ids = np.arange(n, dtype=np.int64)
        row: dict = {}
        exact = exact_top10(base, queries)
        for kind in ("flat", "hnsw"):
            index = VectorIndex(dim, kind)
            start = time.perf_counter()
            for block in range(0, n, 100_000):
                index.add(ids[block : block + 100_000], base[block : block + 100_000])
            build = time.perf_counter() - start
            times = []
            found = []
            for query in queries:
                start = time.perf_counter()
                _, hit_ids = index.search(query, 10)
                times.append((time.perf_counter() - start) * 1000)
                found.append(hit_ids[0])
            result = {"build_s": round(build, 1), "ms_per_query_p50": round(statistics.median(times), 3),
                      "ms_per_query_p99": round(percentile(times, 0.99), 3)}
            recall = [len(set(a.tolist()) & set(b.tolist())) / 10 for a, b in zip(found, exact, strict=True)]
            result["recall_at_10_vs_exact"] = round(float(np.mean(recall)), 4)
            row[kind] = result
            del index
        out[str(n)] = row
    return out


# -- changes -----------------------------------------------------------------------------------------
def _probe_speeches(n: int, seed: int = 12) -> list[tuple[str, str]]:
    """n new speeches (name, text), each of sentences drawn from several stories far past any bench
    --limit, so none repeats a stored document or another probe. Its title holds a number no other
    text has (stories from there may be stored, and a copy of one of their passages would be folded
    into the stored one's hit): that number is what to search for."""
    import random
    import re

    from qa.ingest.readers import read_path
    from qa.types import RawDocument

    sentences: list[str] = []
    for record in itertools.islice(read_path(XWLB), 70_000, None):
        if isinstance(record, RawDocument):
            sentences.extend(s.strip() for s in re.split(r"(?<=[。！？])", record.text) if 20 <= len(s.strip()) <= 120)
        if len(sentences) >= 12 * n:
            break
    rng = random.Random(seed)
    rng.shuffle(sentences)
    return [(f"probe-{i:04d}.txt", f"变化测试讲话 编号{9_100_000 + i}\n" + "".join(sentences[i * 12 : i * 12 + 12]))
            for i in range(n)]


def _search_hits(http, query: str, k: int = 10, mode: str = "hybrid") -> list[dict]:
    response = http.get("/api/search", params={"q": query, "k": k, "mode": mode})
    response.raise_for_status()
    return response.json()["results"]


def _latencies(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": round(percentile(values, 0.5), 1), "p99_ms": round(percentile(values, 0.99), 1)}


def _load(url: str, clients: int, seconds: float, queries: list[str], writer=None) -> dict:
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
                    status = http.get("/api/search", params={"q": queries[i % len(queries)], "k": 10}).status_code
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
    return {**_latencies(latencies), "errors": len(errors), "error_samples": errors[:5]}


def bench_changes(directory: Path, settings, changes: int, load_seconds: float, ingest_stories: int) -> dict:
    """Issue 12's measures on a collection of any size: upload -> searchable, upload and delete return
    times, memory after `changes` uploads + deletions, 8 searchers with and without 1 writer. Works on a
    copy of `directory` (the collection given is left as it was)."""
    import shutil
    from dataclasses import replace

    import httpx

    from qa.cli import run_ingest

    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="speechqa-bench-changes-") as tmp:
        data = Path(tmp) / "collection"
        shutil.copytree(directory, data)
        # Opened once here, so a collection of an older format is migrated before the server starts and
        # the server's memory is what serving costs, not what a one-off rebuild left behind.
        from embeddings.loader import model_name
        from qa.index.collection import Collection

        opened = Collection.open(data, model_name(settings))
        opened.load_indexes()
        opened.close()
        probes = _probe_speeches(changes + 40)
        queries = api_queries(400)
        server, url = _start_server(data, settings)
        try:
            with httpx.Client(base_url=url, timeout=120) as http:
                health = http.get("/healthz").json()
                out["collection"] = {"documents": health["documents"], "passages": health["chunks"], "index": health["index"]}
                for query in queries[:40]:
                    _search_hits(http, query)
                rss_before = _rss_mb(server.pid, "VmRSS")
                upload, searchable, delete = [], [], []
                violations = 0
                for name, text in probes[:changes]:
                    start = time.perf_counter()
                    response = http.post("/api/documents", files={"files": (name, text.encode("utf-8"), "text/plain")})
                    upload.append((time.perf_counter() - start) * 1000)
                    response.raise_for_status()
                    [doc_id] = response.json()["added"]
                    returned = time.perf_counter()
                    probe_query = text.split("\n", 1)[0].split()[-1]
                    while doc_id not in {hit["doc_id"] for hit in _search_hits(http, probe_query, 100, "lexical")}:
                        if time.perf_counter() - returned > 30:
                            raise RuntimeError(f"{doc_id} was not searchable 30 s after its upload returned")
                    searchable.append((time.perf_counter() - returned) * 1000)
                    start = time.perf_counter()
                    http.delete(f"/api/documents/{doc_id}").raise_for_status()
                    delete.append((time.perf_counter() - start) * 1000)
                    violations += doc_id in {hit["doc_id"] for hit in _search_hits(http, probe_query, 100, "lexical")}
                rss_after = _rss_mb(server.pid, "VmRSS")
                out["upload_returns"] = _latencies(upload)
                out["upload_to_searchable"] = _latencies(searchable)
                out["delete_returns"] = _latencies(delete)
                out["deleted_yet_found"] = violations
                out["memory_mb"] = {"before": round(rss_before, 1), "after": round(rss_after, 1),
                                    "change_pct": round(100 * (rss_after - rss_before) / rss_before, 1)}

            def writer(stop: threading.Event) -> None:
                with httpx.Client(base_url=url, timeout=120) as http:
                    for name, text in itertools.cycle(probes[changes:]):
                        if stop.is_set():
                            return
                        response = http.post("/api/documents", files={"files": (name, text.encode("utf-8"), "text/plain")})
                        for doc_id in response.json().get("added") or []:
                            http.delete(f"/api/documents/{doc_id}")

            out["search_8_clients"] = _load(url, 8, load_seconds, queries[40:])
            out["search_8_clients_1_writer"] = _load(url, 8, load_seconds, queries[40:], writer)
            with httpx.Client(base_url=url, timeout=60) as http:
                # Asking starts a fresh measurement in the background when enough changed; the next answer has it.
                http.get("/healthz")
                time.sleep(20)
                out["recall_at_10"] = http.get("/healthz").json().get("index_recall_at_10")
        finally:
            server.terminate()
            server.wait(30)
        if ingest_stories:
            # The same stories into this collection and into an empty one, through the CLI's code path:
            # stories of 2023, which neither the archive (2025 on) nor a bench collection of the first
            # stories holds, so both runs embed them all. Three rounds of new stories, the order
            # alternating, so a busy moment of the machine does not fall on one side only.
            import gzip

            timings: dict[str, list[float]] = {"into_empty_s": [], "into_collection_s": []}
            for round_ in range(3):
                stories = Path(tmp) / f"stories-{round_}.jsonl"
                first = 60_000 + round_ * ingest_stories
                with gzip.open(XWLB, "rt", encoding="utf-8") as lines, open(stories, "w", encoding="utf-8") as target:
                    target.writelines(itertools.islice(lines, first, first + ingest_stories))
                runs = [("into_empty_s", Path(tmp) / f"empty-{round_}"), ("into_collection_s", data)]
                for label, target_dir in runs if round_ % 2 == 0 else runs[::-1]:
                    start = time.perf_counter()
                    run_ingest(replace(settings, data_dir=target_dir), [stories])
                    timings[label].append(round(time.perf_counter() - start, 1))
            medians = {label: statistics.median(values) for label, values in timings.items()}
            out["cli_ingest"] = {"stories": ingest_stories, **medians, "runs": timings,
                                 "overhead_pct": round(100 * (medians["into_collection_s"] / medians["into_empty_s"] - 1), 1)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clean", type=int, default=10_000, help="stories for the cleaning benchmark (0 skips)")
    parser.add_argument("--embed", type=int, default=500, help="stories whose passages are embedded (0 skips)")
    parser.add_argument("--ingest", type=int, default=500, help="stories for the end-to-end ingest (0 skips)")
    parser.add_argument("--api-collection", type=Path, help="collection directory to serve for the latency test")
    parser.add_argument("--requests", type=int, default=60, help="requests per client in the latency test (1 client, then 8)")
    parser.add_argument("--vectors", default="100000,1000000", help="comma-separated index sizes ('' skips)")
    parser.add_argument("--changes-collection", type=Path,
                        help="collection to measure uploads/deletions on (a copy of it; issue 12's figures)")
    parser.add_argument("--changes", type=int, default=100, help="uploads and deletions in a row for --changes-collection")
    parser.add_argument("--changes-load-s", type=float, default=60, help="seconds of 8 searchers, without then with 1 writer")
    parser.add_argument("--changes-ingest", type=int, default=0,
                        help="stories ingested through the CLI into the copy and into an empty collection (0 skips)")
    parser.add_argument("--phrase-collection", type=Path,
                        help="store for the phrase timeline benchmark (built from xwlb, without vectors, if missing)")
    parser.add_argument("--phrase-stories", type=int, default=None, help="xwlb stories in a new phrase store (default all)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-output" / "bench.json")
    args = parser.parse_args(argv)

    from qa.settings import Settings

    settings = Settings.from_env()
    results: dict = {"machine": {"cpus": os.cpu_count(), "platform": sys.platform}}
    try:
        import torch

        results["machine"]["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        results["machine"]["cuda"] = None
    if args.clean:
        results["clean"] = bench_clean(args.clean, args.runs)
        print(f"clean   {results['clean']['docs_per_s']} docs/s (median of {args.runs}: {results['clean']['docs_per_s_runs']})", flush=True)
    if args.embed:
        from dataclasses import replace

        # The CPU figure always; the GPU's too where the default settings pick one.
        devices = ["cpu"] + (["default"] if results["machine"]["cuda"] else [])
        for device in devices:
            key = "embed" if device == "cpu" else "embed_gpu"
            chosen = replace(settings, device="cpu") if device == "cpu" else settings
            results[key] = bench_embed(args.embed, args.runs, chosen)
            e = results[key]
            print(f"embed   {e['passages_per_s']} passages/s on {e['device']} ({e['backend']}, {e['passages']} passages of "
                  f"{e['mean_chars']} chars, runs {e['passages_per_s_runs']}); one query {e['query_embed_ms']} ms", flush=True)
    if args.ingest:
        results["ingest"] = bench_ingest(args.ingest, settings)
        i = results["ingest"]
        print(f"ingest  {i['stories']} stories -> {i['documents']} documents, {i['passages']} passages in {i['seconds']} s "
              f"({i['docs_per_s']} docs/s, {i['passages_per_s']} passages/s)", flush=True)
    if args.api_collection:
        results["api"] = bench_api(args.api_collection, settings, args.requests)
        a = results["api"]
        for clients in (1, 8):
            c = a[f"clients_{clients}"]
            print(f"api     {clients} client(s): p50 {c['p50_ms']} ms, p95 {c['p95_ms']} ms, p99 {c['p99_ms']} ms, "
                  f"{c['requests_per_s']} req/s", flush=True)
        col = a["collection"]
        payload = col["vectors_mb"] + col["text_mb"]
        print(f"memory  server peak {a['server_peak_rss_mb']} MB ({a['server_peak_rss_sample_collection_mb']} MB on the sample "
              f"speeches, so the collection costs {a['collection_share_of_server_mb']} MB = "
              f"{a['collection_share_of_server_mb'] / payload:.2f}x its payload); collection {col['passages']} passages = "
              f"vectors {col['vectors_mb']} MB + text {col['text_mb']} MB ({col['index']})", flush=True)
    if args.phrase_collection:
        results["phrase"] = bench_phrase(args.phrase_collection, args.phrase_stories, args.runs)
        p = results["phrase"]
        print(f"phrase  {p['documents']} documents: p50 {p['p50_ms']} ms over {len(p['phrases'])} phrases "
              f"(first query {p['first_query_s']} s); trigram index {p['index_mb']} MB on disk "
              f"(store {p['store_mb']} MB, document texts {p['documents_text_mb']} MB), memory +{p['rss_growth_mb']} MB",
              flush=True)
        print(f"          a two-character phrase ({p['short_phrase']['phrase']}, {p['short_phrase']['documents']} documents) "
              f"{p['short_phrase']['seconds']} s", flush=True)
        for phrase, row in p["phrases"].items():
            print(f"          {phrase}: {row['documents']} documents, {row['occurrences']} occurrences, p50 {row['p50_ms']} ms",
                  flush=True)
    if args.vectors:
        sizes = [int(s) for s in args.vectors.split(",") if s]
        results["vectors"] = bench_vectors(sizes)
        for n, row in results["vectors"].items():
            h = row["hnsw"]
            print(f"vectors {n}: exact (half precision) {row['flat']['ms_per_query_p50']} ms/query, recall@10 "
                  f"{row['flat']['recall_at_10_vs_exact']}; hnsw {h['ms_per_query_p50']} ms/query, "
                  f"recall@10 {h['recall_at_10_vs_exact']}, build {h['build_s']} s", flush=True)
    if args.changes_collection:
        results["changes"] = bench_changes(args.changes_collection, settings, args.changes, args.changes_load_s,
                                           args.changes_ingest)
        c = results["changes"]
        print(f"changes {c['collection']['passages']} passages ({c['collection']['index']}): upload returns p50 "
              f"{c['upload_returns']['p50_ms']} ms, searchable {c['upload_to_searchable']['p50_ms']} ms after (p50); delete "
              f"returns p50 {c['delete_returns']['p50_ms']} ms, found after deletion {c['deleted_yet_found']} times; "
              f"memory {c['memory_mb']['before']} -> {c['memory_mb']['after']} MB ({c['memory_mb']['change_pct']}%) after "
              f"{c['upload_returns']['n']} uploads + deletions", flush=True)
        quiet, busy = c["search_8_clients"], c["search_8_clients_1_writer"]
        print(f"changes 8 searchers: p99 {quiet['p99_ms']} ms alone, {busy['p99_ms']} ms beside 1 writer "
              f"({busy['errors']} errors in {busy['n']} searches); recall@10 {c['recall_at_10']}", flush=True)
        if "cli_ingest" in c:
            i = c["cli_ingest"]
            print(f"changes CLI ingest of {i['stories']} stories (median of 3): {i['into_collection_s']} s into it, "
                  f"{i['into_empty_s']} s into an empty collection ({i['overhead_pct']:+}%; runs {i['runs']})", flush=True)
    import resource

    results["bench_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
