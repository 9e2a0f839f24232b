"""The scale-out paths (README "Scaling out"): ingest embedded against Ray into Milvus Lite, and search
over Milvus Lite holding many passages."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from scripts.benchmarks.corpus import ROOT
from scripts.benchmarks.timing import percentile

if TYPE_CHECKING:
    from qa.settings import Settings


def _passages_written(target: list[str], settings: Settings) -> int:
    from embeddings.loader import model_name
    from qa.index.backends import open_collection
    from qa.index.collection import read_manifest

    if target[0] == "--data":
        return int(read_manifest(Path(target[1])).get("passages", 0))
    collection = open_collection(replace(settings, index=target[1]), model_name(settings))
    try:
        return collection.count_passages()
    finally:
        collection.close()


def bench_milvus_ingest(stories: Path, n: int, runs: int, settings: Settings) -> dict:
    """The whole `speechqa ingest --limit n` command, into an embedded collection and through Ray into Milvus Lite."""
    env = {**os.environ, "SPEECHQA_CACHE": str(settings.cache_dir), "TOKENIZERS_PARALLELISM": "false"}
    env.pop("RAY_ADDRESS", None)  # a local Ray cluster on this machine's cores
    rates: dict[str, list[float]] = {"embedded": [], "ray": []}
    passages = 0
    for _ in range(runs):
        for kind in ("embedded", "ray"):
            with tempfile.TemporaryDirectory(prefix="speechqa-bench-milvus-") as work:
                target = ["--data", f"{work}/data"] if kind == "embedded" else ["--index", f"{work}/x.db", "--ray"]
                started = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "qa.cli", "ingest", str(stories), "--limit", str(n), *target],
                                      cwd=ROOT, env=env, capture_output=True, text=True)
                if done.returncode != 0:
                    raise RuntimeError(f"speechqa ingest {' '.join(target)} exited {done.returncode}: "
                                       f"{done.stderr.strip()[-2000:]}")
                seconds = time.perf_counter() - started
                passages = _passages_written(target[:2], settings)
            rates[kind].append(passages / seconds)
    return {"records": n, "passages": passages} | {
        kind: {"passages_per_s_runs": [round(v, 1) for v in values], "passages_per_s": round(statistics.median(values), 1)}
        for kind, values in rates.items()}


def bench_milvus_search(archive: Path, n_passages: int, questions_file: Path, requests: int, settings: Settings) -> dict:
    """Search latency per mode over Milvus Lite holding n_passages: the archive's real passages and documents,
    repeated under new ids up to the count, each copy with random unit vectors."""
    import numpy as np

    from embeddings.loader import load_encoder
    from qa.index.backends import open_collection
    from qa.index.collection import STORE_FILE
    from qa.index.milvus_rows import chunk_pid
    from qa.index.store import PassageStore
    from qa.index.store_passages import StoredPassage
    from qa.search.service import SearchRequest, SearchService
    from qa.types import Document

    work = Path(tempfile.mkdtemp(prefix="speechqa-bench-milvus-search-"))
    copy = work / STORE_FILE
    shutil.copy(archive / STORE_FILE, copy)  # the archive is only read
    store = PassageStore(copy)
    encoder = load_encoder(settings)
    collection = open_collection(replace(settings, index=str(work / "x.db")), encoder.name, create=True, dim=encoder.dim)
    rng = np.random.default_rng(0)
    doc_ids = store.all_document_ids()
    written, copy_number, started = 0, 0, time.perf_counter()
    while written < n_passages:
        for start in range(0, len(doc_ids), 500):
            batch = doc_ids[start : start + 500]
            stored_of = store.stored_passages(batch)
            items: list[tuple[Document, list[StoredPassage], bytes | None]] = []
            vectors: dict[str, np.ndarray] = {}
            for doc_id, document in store.get_documents(batch, with_text=True).items():
                stored = stored_of.get(doc_id, [])[: n_passages - written]
                if copy_number:  # a copy under new ids, so every row is a passage of its own
                    document = replace(document, doc_id=f"{doc_id}-{copy_number}",
                                       content_hash=f"{document.content_hash}-{copy_number}")
                    stored = [replace(s, passage=replace(s.passage, doc_id=document.doc_id,
                                                         chunk_id=f"c-{chunk_pid(s.passage.chunk_id) + copy_number & 0xFFFFFFFFFFFFFFFF:016x}"))
                              for s in stored]
                # A random vector of its own for each passage, under a key of its own (passages of one text share a hash).
                stored = [replace(s, embed_hash=s.passage.chunk_id) for s in stored]
                random = rng.standard_normal((len(stored), encoder.dim)).astype(np.float32)
                random /= np.linalg.norm(random, axis=1, keepdims=True)
                vectors.update(zip([s.embed_hash for s in stored], random, strict=True))
                items.append((document, stored, None))
                written += len(stored)
                if written >= n_passages:
                    break
            collection.add_documents(items, vectors)
            if written >= n_passages:
                break
        copy_number += 1
    with collection.snapshot() as view:  # the writes sealed, as a search finds them
        out: dict = {"passages": view.vectors.count(), "load_s": round(time.perf_counter() - started, 1)}
    service = SearchService(collection, encoder)
    questions = [json.loads(line)["query"] for line in questions_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    for mode in ("dense", "lexical", "hybrid"):
        for question in questions[:5]:  # warm: segment indexes built, query vectors cached
            service.search(SearchRequest(query=question, k=10, mode=mode))
        latencies = []
        for i in range(requests):
            begun = time.perf_counter()
            service.search(SearchRequest(query=questions[i % len(questions)], k=10, mode=mode))
            latencies.append((time.perf_counter() - begun) * 1000)
        out[mode] = {"p50_ms": round(percentile(latencies, 0.5), 1), "p95_ms": round(percentile(latencies, 0.95), 1)}
    query = rng.standard_normal(encoder.dim).astype(np.float32)
    started = time.perf_counter()
    with collection.snapshot() as view:
        for _ in range(requests):
            view.vectors.search(query / np.linalg.norm(query), 100)
    out["vector_search_only_ms"] = round((time.perf_counter() - started) * 1000 / requests, 2)
    collection.close()
    store.close()
    shutil.rmtree(work, ignore_errors=True)
    return out
