"""Text reuse over a store of xwlb stories: reuse of a passage, the most reused passages, and what the reuse index costs.

The store is built as the phrase benchmark builds one (cleaned and chunked as ingest does, no vectors: reuse
reads only texts), timing each batch's store write with and without indexing it for reuse. The reuse index is
saved beside the store, as a collection saves it, and read back memory-mapped for the queries.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import time
from pathlib import Path

import numpy as np

from scripts.benchmarks.corpus import BenchError, stories
from scripts.benchmarks.timing import latency_summary, rss_mb

ENTRY = "reuse-entry.json"  # the manifest entry of the saved reuse index (a collection keeps it in manifest.json)
BATCH = 2_000
# A year of the archive's busiest stretch, for the top list over a date range.
TOP_RANGE = ("2020-01-01", "2020-12-31")


class StoreReuseView:
    """qa.search.reuse.ReuseView over a bare store and a reuse index (the benchmark's store has no vectors)."""

    def __init__(self, store, index) -> None:
        self.store = store
        self.reuse = index.reader()

    def passage_of_chunk(self, chunk_id: str):
        pid = self.store.pid_of_chunk(chunk_id)
        return None if pid is None else self.store.passages_by_pid([pid]).get(pid)

    def filtered_pids(self, where):
        return self.store.filtered_pids(where)

    def documents(self, doc_ids):
        return self.store.get_documents(doc_ids)

    def documents_with_text(self, doc_ids):
        return self.store.get_documents(doc_ids, with_text=True)

    def passages_of(self, doc_id: str):
        return self.store.passages_of(doc_id)


def build_reuse_store(directory: Path, path: Path, n: int | None) -> dict:
    """A store of the first n stories (all when None) and its reuse index, timing the store and the index apart."""
    from qa.index.collection import STORE_FILE
    from qa.index.reuse_index import IndexedDocument, ReuseIndex
    from qa.index.store import PassageStore, StoredPassage
    from qa.ingest.chunking import chunk_text
    from qa.ingest.pipeline import build_document, text_hash
    from qa.types import Document, Passage

    directory.mkdir(parents=True, exist_ok=True)
    store = PassageStore(directory / STORE_FILE)
    index = ReuseIndex.build([], store.version)
    store_s = index_s = 0.0
    seen: set[str] = set()
    documents = passages = 0
    records = iter(stories(path, n))
    while True:
        started = time.perf_counter()
        batch: list = []
        for record in records:
            built = build_document(record)
            if not isinstance(built, Document) or built.content_hash in seen:
                continue
            seen.add(built.content_hash)
            chunks = [StoredPassage(Passage(f"c-{built.doc_id[2:]}-{i}", built.doc_id, i, c.text, c.char_start,
                                            c.char_end, c.section), text_hash(c.text), "")
                      for i, c in enumerate(chunk_text(built.text))]
            batch.append((built, chunks, None))
            if len(batch) >= BATCH:
                break
        if not batch:
            break
        change = store.add_documents(batch, {}, "none")
        store_s += time.perf_counter() - started
        started = time.perf_counter()
        ends = np.cumsum([len(chunks) for _, chunks, _ in batch])
        index.add([IndexedDocument(document.doc_id, document.text, int(change.added[end - len(chunks)]),
                                   int(change.added[end - 1]))
                   for (document, chunks, _), end in zip(batch, ends, strict=True) if chunks], change.version)
        index_s += time.perf_counter() - started
        documents += len(batch)
        passages += int(ends[-1])
    started = time.perf_counter()
    index.maintain()  # the background merge a collection runs, into one segment
    merge_s = time.perf_counter() - started
    (directory / ENTRY).write_text(json.dumps(index.save(directory)), encoding="utf-8")
    store.close()
    return {"documents": documents, "passages": passages, "store_s": round(store_s, 1), "reuse_index_s": round(index_s, 1),
            "merge_s": round(merge_s, 1),
            "docs_per_s_without": round(documents / store_s, 1), "docs_per_s_with": round(documents / (store_s + index_s), 1),
            "passages_per_s_without": round(passages / store_s, 1),
            "passages_per_s_with": round(passages / (store_s + index_s), 1)}


def _folder_mb(folder: Path) -> float:
    return round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6, 1)


def bench_reuse(directory: Path, path: Path | None, n: int | None, queries: int, seed: int = 20) -> dict:
    """p50 of reuse of random stored passages and of the most reused passages; the index's build cost, size, memory.

    Where `directory` holds no store, one is built from the first n stories of `path` first.
    """
    from qa.index.collection import STORE_FILE
    from qa.index.reuse_index import ReuseIndex
    from qa.index.store import PassageStore
    from qa.search.reuse import ReuseRequest, reuse_of
    from qa.search.reuse_top import TopReuseRequest, most_reused

    out: dict = {}
    if not (directory / STORE_FILE).exists() or not (directory / ENTRY).exists():
        if path is None:
            raise BenchError(f"no store with a reuse index in {directory} and no stories to build one from")
        if (directory / STORE_FILE).exists():
            shutil.rmtree(directory)
        out["built"] = build_reuse_store(directory, path, n)
    rss_before = {kind: rss_mb(field=kind) for kind in ("RssAnon", "RssFile")}
    store = PassageStore(directory / STORE_FILE)
    started = time.perf_counter()
    index = ReuseIndex.load(directory, json.loads((directory / ENTRY).read_text(encoding="utf-8")))
    view = StoreReuseView(store, index)
    out["load_s"] = round(time.perf_counter() - started, 2)
    out["documents"] = index.count()
    out["fingerprints"] = index.stats()["fingerprints"]
    out["index_mb"] = _folder_mb(directory / "reuse")
    # A passage of a document drawn at random, for each query.
    rng = random.Random(seed)
    doc_ids = store.all_document_ids()
    sample = [rng.choice(store.passages_of(doc_id)).chunk_id for doc_id in rng.sample(doc_ids, min(queries, len(doc_ids)))]
    started = time.perf_counter()
    reuse_of(view, ReuseRequest(chunk_id=sample[0]))
    out["first_query_s"] = round(time.perf_counter() - started, 2)
    times, found = [], []
    for chunk_id in sample:
        started = time.perf_counter()
        report = reuse_of(view, ReuseRequest(chunk_id=chunk_id))
        times.append((time.perf_counter() - started) * 1000)
        found.append(report.total_documents)
    out["passage"] = {**latency_summary(times), "with_reuse": sum(1 for f in found if f),
                      "documents_median": statistics.median(found), "documents_max": max(found)}
    out["slowest_passage"] = {"chunk_id": sample[int(np.argmax(times))], "documents": found[int(np.argmax(times))]}
    top_times = {}
    for label, request in (("all", TopReuseRequest()), ("range", TopReuseRequest(date_from=TOP_RANGE[0], date_to=TOP_RANGE[1])),
                           ("all_hide_series", TopReuseRequest(hide_series=True))):
        started = time.perf_counter()
        top = most_reused(view, request)
        top_times[label] = {"seconds": round(time.perf_counter() - started, 2), "passages": len(top.passages),
                            "candidates_checked": top.candidates_checked,
                            "first": [{"documents": p.documents, "series_documents": p.series_documents,
                                       "first_date": p.first_date, "last_date": p.last_date, "text": p.passage.text[:60]}
                                      for p in top.passages[:5]]}
    out["top"] = top_times
    # The heap's growth, and the pages of mapped files (the index's arrays, the store) the queries read in: the
    # kernel counts those in the process's RSS but can drop them again.
    out["heap_growth_mb"] = round(rss_mb(field="RssAnon") - rss_before["RssAnon"], 1)
    out["mapped_growth_mb"] = round(rss_mb(field="RssFile") - rss_before["RssFile"], 1)
    store.close()
    return out


# Where the survey cuts the lengths of longest shared runs; the last bucket is open.
SURVEY_EDGES = (20, 24, 28, 32, 36, 40, 48, 60, 120)
SURVEY_EXAMPLES = 12


def survey_run_lengths(directory: Path, sample: int, seed: int = 7) -> dict:
    """How long the longest run is that a story shares with each other story, for `sample` stories drawn at random:
    the measurement the minimum run of reuse is chosen from (docs/evaluation.md, "Text reuse").

    A second index finds every run of 20 characters or more; each bucket of lengths lists how many pairs fall in
    it and a few of their runs, drawn at random, to be read by hand.
    """
    from qa.index.collection import STORE_FILE
    from qa.index.reuse_index import IndexedDocument, Lengths, ReuseIndex
    from qa.index.store import PassageStore
    from qa.text.fingerprints import reuse_form

    store = PassageStore(directory / STORE_FILE)
    documents = store.get_documents(store.all_document_ids(), with_text=True)
    store.close()
    ordered = sorted(documents.values(), key=lambda d: d.doc_id)
    index = ReuseIndex.build([IndexedDocument(d.doc_id, d.text, i, i) for i, d in enumerate(ordered, 1)], 1,
                             Lengths(gram=12, window=9))
    reader = index.reader()
    rng = random.Random(seed)
    buckets: dict[int, list[dict]] = {edge: [] for edge in SURVEY_EDGES}
    for document in rng.sample(ordered, min(sample, len(ordered))):
        form = reuse_form(document.text)
        for match in reader.matches(form.codes, exclude_doc=document.doc_id):
            at, _, length = max(match.runs.tolist(), key=lambda run: run[2])
            edge = max(e for e in SURVEY_EDGES if e <= length)
            start, end = form.span_in_text(at, at + length)
            buckets[edge].append({"length": length, "titles": [document.metadata.title, documents[match.doc_id].metadata.title],
                                  "text": document.text[start:end]})
    pairs = sum(len(found) for found in buckets.values())
    rows = []
    for low, high in zip(SURVEY_EDGES, (*SURVEY_EDGES[1:], None), strict=True):
        found = buckets[low]
        rows.append({"from": low, "below": high, "pairs": len(found), "share": round(len(found) / max(pairs, 1), 4),
                     "examples": rng.sample(found, min(SURVEY_EXAMPLES, len(found)))})
    return {"stories": len(ordered), "sampled": min(sample, len(ordered)), "pairs": pairs, "buckets": rows}
