"""Phrase timelines (GET /api/phrase's work) over a store of xwlb stories, and what their trigram index costs."""

from __future__ import annotations

import os
import sqlite3
import statistics
import time
from pathlib import Path

from scripts.benchmarks.corpus import BenchError, stories
from scripts.benchmarks.timing import rss_mb

# Formulations of different ages and frequencies; each is timed as the whole GET /api/phrase work
# (index lookup, exact scan of the candidates, series, the first page of occurrences).
PHRASES = ["新质生产力", "人类命运共同体", "精准扶贫", "供给侧结构性改革", "一带一路", "绿水青山就是金山银山", "乡村振兴",
           "全过程人民民主", "高质量发展", "两个维护"]
SHORT_PHRASE = "两会"


def build_phrase_store(directory: Path, path: Path, n: int | None) -> dict:
    """A store of the first n stories (all when None): cleaned and chunked as ingest does, no vectors."""
    from qa.index.collection import STORE_FILE
    from qa.index.store import PassageStore, StoredPassage
    from qa.ingest.chunking import chunk_text
    from qa.ingest.pipeline import build_document, text_hash
    from qa.types import Document, Passage

    directory.mkdir(parents=True, exist_ok=True)
    store = PassageStore(directory / STORE_FILE)
    started = time.perf_counter()
    seen: set[str] = set()
    batch: list = []
    documents = 0
    for record in stories(path, n):
        built = build_document(record)
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


def bench_phrase(directory: Path, path: Path | None, n: int | None, runs: int) -> dict:
    """p50 of each phrase's timeline (of `runs`, at least 3), the first query, a two-character phrase, sizes.

    Where `directory` holds no store, one is built from the first n stories of `path` first.
    """
    from qa.index.collection import STORE_FILE
    from qa.index.store import PassageStore
    from qa.search.phrase import PhraseRequest, phrase_timeline

    out: dict = {}
    store_path = directory / STORE_FILE
    if not store_path.exists():
        if path is None:
            raise BenchError(f"no store in {directory} and no stories to build one from")
        out["built"] = build_phrase_store(directory, path, n)
    with sqlite3.connect(store_path) as db:
        sizes = dict(db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
    index_bytes = sum(size for name, size in sizes.items() if name.startswith("phrase_"))
    rss_before = rss_mb()
    store = PassageStore(store_path)
    out["documents"] = store.count_documents()
    started = time.perf_counter()
    phrase_timeline(store, PhraseRequest(phrase="预热一下"))  # fills the index in when the store predates it
    out["first_query_s"] = round(time.perf_counter() - started, 2)
    # Shorter than a trigram: found through the trigrams that begin with it (qa.index.phrase_index).
    started = time.perf_counter()
    short = phrase_timeline(store, PhraseRequest(phrase=SHORT_PHRASE))
    out["short_phrase"] = {"phrase": SHORT_PHRASE, "documents": short.total_documents,
                           "seconds": round(time.perf_counter() - started, 2)}
    rows = {}
    all_times: list[float] = []
    for phrase in PHRASES:
        times = []
        for _ in range(max(runs, 3)):
            start = time.perf_counter()
            timeline = phrase_timeline(store, PhraseRequest(phrase=phrase))
            times.append((time.perf_counter() - start) * 1000)
        all_times.extend(times)
        rows[phrase] = {"documents": timeline.total_documents, "occurrences": timeline.total_occurrences,
                        "p50_ms": round(statistics.median(times), 1)}
    rss_growth = rss_mb() - rss_before
    store.close()
    out.update({
        "phrases": rows,
        "p50_ms": round(statistics.median(all_times), 1),
        "index_mb": round(index_bytes / 1e6, 1),
        "store_mb": round(os.path.getsize(store_path) / 1e6, 1),
        "documents_text_mb": round(sizes.get("documents", 0) / 1e6, 1),
        "rss_growth_mb": round(rss_growth, 1),
    })
    return out
