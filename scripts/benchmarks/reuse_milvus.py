"""Text reuse on the Milvus backend: the local reuse index built from the passages a Milvus Lite file holds.

The documents come from the reuse benchmark's store (scripts/benchmarks/reuse.py), copied into a new Milvus
Lite file with one placeholder vector a passage (reuse reads texts, never vectors). Then what a server on
that collection does: the first start builds the reuse index from Milvus (reading every document's text),
a later start loads it and compares it with Milvus, and reuse of random passages and the top list answer.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import numpy as np

from scripts.benchmarks.timing import latency_summary

DIM = 8  # the placeholder vectors' size: the smallest Milvus takes without complaint, and reuse reads none
COPY_BATCH = 500


def bench_milvus_reuse(store_dir: Path, documents: int, work: Path, queries: int, seed: int = 20) -> dict:
    """Copy the first `documents` documents of the store at `store_dir` into a Milvus Lite file under `work`,
    then time the reuse index's first build from Milvus, a restart, reuse of random passages and the top list."""
    from qa.index.collection import STORE_FILE
    from qa.index.milvus_backend import MilvusCollection
    from qa.index.milvus_passages import MilvusPassages
    from qa.index.milvus_reuse import reuse_folder
    from qa.index.milvus_rows import batches, passage_rows
    from qa.index.store import PassageStore
    from qa.search.reuse import ReuseRequest, reuse_of
    from qa.search.reuse_top import TopReuseRequest, most_reused

    shutil.rmtree(work, ignore_errors=True)
    lite = work / "reuse.db"
    store = PassageStore(store_dir / STORE_FILE)
    doc_ids = store.all_document_ids()[:documents]
    passages = MilvusPassages.open(str(lite), "none", DIM, create=True)
    vector = np.eye(DIM, dtype=np.float32)[0]
    started = time.perf_counter()
    rows_written = 0
    for batch in batches(doc_ids, COPY_BATCH):
        texts = store.get_documents(batch, with_text=True)
        stored = store.stored_passages(batch)
        rows = [row for doc_id in batch
                for row in passage_rows(texts[doc_id], stored[doc_id], [vector] * len(stored[doc_id]))]
        passages.upsert_rows(rows)
        rows_written += len(rows)
    passages.commit()
    copy_s = time.perf_counter() - started
    print(f"reuse   copied {len(doc_ids)} documents ({rows_written} passages) into Milvus Lite in {copy_s:.1f} s",
          flush=True)
    passages.close()
    store.close()

    out: dict = {"documents": len(doc_ids), "passages": rows_written, "copy_s": round(copy_s, 1)}
    folder = reuse_folder(str(lite), work / "cache")
    for label in ("first_start", "restart"):
        collection = MilvusCollection.open(str(lite), "none", reuse_folder=folder)
        started = time.perf_counter()
        assert collection.reuse is not None
        collection.reuse.index()
        out[f"{label}_s"] = round(time.perf_counter() - started, 2)
        if label == "restart":
            rng = random.Random(seed)
            chosen = rng.sample(doc_ids, min(queries, len(doc_ids)))
            sample = [rng.choice(collection.passages_of(doc_id)).chunk_id for doc_id in chosen]
            times, found = [], []
            with collection.reuse_snapshot() as view:
                for chunk_id in sample:
                    started = time.perf_counter()
                    found.append(reuse_of(view, ReuseRequest(chunk_id=chunk_id)).total_documents)
                    times.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                top = most_reused(view, TopReuseRequest())
                out["top_s"] = round(time.perf_counter() - started, 2)
                out["top_passages"] = len(top.passages)
            out["passage"] = {**latency_summary(times), "with_reuse": sum(1 for f in found if f)}
        collection.close()
    out["index_mb"] = round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6, 1)
    return out
