"""Measure the scale-out paths on this machine (figures in the README's "Scaling out").

    python scripts/bench_milvus.py ingest xwlb.jsonl.gz --limit 300 --runs 3
        `speechqa ingest` wall time, embedded (--data) against Ray into Milvus Lite (--ray --index x.db)
    python scripts/bench_milvus.py search --archive ~/speechqa-archive/data --passages 100000
        search latency over Milvus Lite holding that many passages: the archive's real passages and
        documents, repeated under new ids up to the count, each copy with random unit vectors
"""

from __future__ import annotations

import argparse
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

import numpy as np

ROOT = Path(__file__).parents[1]


def _passages_in(index_or_data: list[str]) -> int:
    out = subprocess.run([sys.executable, "-m", "qa.cli", "docs", "list", "--limit", "500", "--json", *index_or_data],
                         capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return sum(json.loads(line)["n_chunks"] for line in out.splitlines())


def bench_ingest(source: Path, limit: int, runs: int) -> dict:
    results: dict[str, list[float]] = {"embedded": [], "ray": []}
    passages = 0
    for _ in range(runs):
        for kind in ("embedded", "ray"):
            work = Path(tempfile.mkdtemp(prefix="bench-milvus-"))
            target = ["--data", str(work / "data")] if kind == "embedded" else ["--index", str(work / "x.db"), "--ray"]
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "qa.cli", "ingest", str(source), "--limit", str(limit), *target],
                           check=True, cwd=ROOT, capture_output=True)
            seconds = time.perf_counter() - started
            passages = _passages_in(target[:2])
            results[kind].append(passages / seconds)
            shutil.rmtree(work, ignore_errors=True)
            print(f"{kind}: {passages} passages in {seconds:.1f} s = {passages / seconds:.1f} passages/s", flush=True)
    return {kind: {"runs": [round(v, 1) for v in values], "median": round(statistics.median(values), 1)}
            for kind, values in results.items()} | {"passages": passages, "records": limit}


def bench_search(archive: Path, n_passages: int, queries: Path, requests: int) -> dict:
    from embeddings.loader import load_encoder
    from qa.index.milvus_backend import MilvusCollection, _stored_passages, chunk_pid, passage_rows
    from qa.index.store import PassageStore
    from qa.search.service import SearchRequest, SearchService
    from qa.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="bench-milvus-search-"))
    copy = work / "store.sqlite"
    shutil.copy(archive / "speechqa.sqlite", copy)
    store = PassageStore(copy)
    settings = Settings.from_env()
    encoder = load_encoder(settings)
    collection = MilvusCollection.open(str(work / "x.db"), encoder.name, dim=encoder.dim, create=True)
    rng = np.random.default_rng(0)
    doc_ids = [row[0] for row in store._db.execute("SELECT doc_id FROM documents ORDER BY doc_id")]
    written, copy_number, started = 0, 0, time.perf_counter()
    while written < n_passages:
        for start in range(0, len(doc_ids), 500):
            documents = store.get_documents(doc_ids[start:start + 500], with_text=True)
            rows: list[dict] = []
            for doc_id, document in documents.items():
                stored = _stored_passages(store, doc_id)
                if copy_number:  # a copy under new ids, so every row is a passage of its own
                    document = replace(document, doc_id=f"{doc_id}-{copy_number}", content_hash=f"{document.content_hash}-{copy_number}")
                    stored = [replace(s, passage=replace(s.passage, doc_id=document.doc_id,
                                                         chunk_id=f"c-{chunk_pid(s.passage.chunk_id) + copy_number & 0xFFFFFFFFFFFFFFFF:016x}"))
                              for s in stored]
                vectors = rng.standard_normal((len(stored), encoder.dim)).astype(np.float32)
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                rows += passage_rows(document, stored, list(vectors))
            rows = rows[: n_passages - written]
            collection.store.upsert_rows(rows)
            written += len(rows)
            if written >= n_passages:
                break
        copy_number += 1
    collection.store.commit()
    load_seconds = time.perf_counter() - started
    service = SearchService(collection, encoder)
    questions = [json.loads(line)["query"] for line in queries.read_text(encoding="utf-8").splitlines() if line.strip()]
    out: dict = {"passages": collection.store.count_passages(), "load_s": round(load_seconds, 1)}
    for mode in ("dense", "lexical", "hybrid"):
        for question in questions[:5]:  # warm: segment indexes built, query vectors cached
            service.search(SearchRequest(question, 10, mode))
        latencies = []
        for i in range(requests):
            begun = time.perf_counter()
            service.search(SearchRequest(questions[i % len(questions)], 10, mode))
            latencies.append((time.perf_counter() - begun) * 1000)
        out[mode] = {"p50_ms": round(float(np.percentile(latencies, 50)), 1), "p95_ms": round(float(np.percentile(latencies, 95)), 1)}
        print(mode, out[mode], flush=True)
    started = time.perf_counter()
    query = rng.standard_normal(encoder.dim).astype(np.float32)
    with collection.snapshot() as view:
        for _ in range(requests):
            view.vectors.search(query / np.linalg.norm(query), 100)
    out["vector_search_only_ms"] = round((time.perf_counter() - started) * 1000 / requests, 2)
    collection.close()
    store.close()
    shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    ingest = sub.add_parser("ingest")
    ingest.add_argument("source", type=Path)
    ingest.add_argument("--limit", type=int, default=300)
    ingest.add_argument("--runs", type=int, default=3)
    search = sub.add_parser("search")
    search.add_argument("--archive", type=Path, default=Path.home() / "speechqa-archive" / "data")
    search.add_argument("--passages", type=int, default=100_000)
    search.add_argument("--queries", type=Path, default=ROOT.parent / "shared" / "eval" / "archive_dev_questions.jsonl")
    search.add_argument("--requests", type=int, default=60)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    figures = (bench_ingest(args.source, args.limit, args.runs) if args.command == "ingest"
               else bench_search(args.archive, args.passages, args.queries, args.requests))
    print(json.dumps(figures, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
