"""The ingest path in pieces: cleaning alone, embedding alone (per device and backend), then end to end."""

from __future__ import annotations

import itertools
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from scripts.benchmarks.corpus import QUERIES

if TYPE_CHECKING:
    import numpy as np

    from embeddings.base import Encoder
    from qa.settings import Settings


# -- cleaning ----------------------------------------------------------------------------------------
def clean_once(path: Path, n: int) -> tuple[int, int, dict[str, float]]:
    """One pass over the first n records (read -> clean -> metadata -> content hash).

    Returns (documents, records rejected by the reader, seconds per stage).
    """
    from qa.ingest.cleaning import clean_text
    from qa.ingest.metadata import content_hash, extract_metadata
    from qa.ingest.readers import read_path
    from qa.types import RawDocument

    stages: defaultdict[str, float] = defaultdict(float)
    documents = rejected = 0
    clock = time.perf_counter
    records = itertools.islice(read_path(path), n)
    while True:
        start = clock()
        record = next(records, None)
        stages["read"] += clock() - start
        if record is None:
            break
        if not isinstance(record, RawDocument):
            rejected += 1
            continue
        start = clock()
        cleaned = clean_text(record.text)
        after_clean = clock()
        extract_metadata(record, cleaned)
        after_metadata = clock()
        content_hash(cleaned)
        stages["clean"] += after_clean - start
        stages["metadata"] += after_metadata - after_clean
        stages["content_hash"] += clock() - after_metadata
        documents += 1
    return documents, rejected, dict(stages)


def bench_clean(path: Path, n: int, runs: int) -> dict:
    """docs/s of `runs` passes (the median, and where the median pass spent its time)."""
    from qa.ingest.cleaning import clean_text
    from qa.ingest.metadata import content_hash

    content_hash(clean_text("預熱 warm-up"))  # loads OpenCC once, outside the timing
    passes = []
    for _ in range(runs):
        start = time.perf_counter()
        documents, rejected, stages = clean_once(path, n)
        passes.append((documents / (time.perf_counter() - start), documents, rejected, stages))
    rate, documents, rejected, stages = sorted(passes, key=lambda one: one[0])[len(passes) // 2]
    return {"records": n, "documents": documents, "rejected": rejected, "docs_per_s": round(rate),
            "docs_per_s_runs": [round(one[0]) for one in passes],
            "median_run_seconds_by_stage": {stage: round(s, 2) for stage, s in sorted(stages.items(), key=lambda kv: -kv[1])}}


# -- embedding ---------------------------------------------------------------------------------------
# Passages are timed as ingest embeds them (qa.ingest.pipeline.embed_passages): the model reads each
# sentence, and a passage's vector is the mean of its sentences'.
@dataclass(frozen=True)
class Fp32Reference:
    """torch fp32 vectors of the first passages, as passages and (the first 64) as queries: what the other
    encoders are compared with."""

    passages: list[str]
    passage_vectors: np.ndarray
    query_vectors: np.ndarray
    passages_per_s: float


def _cosines(a: np.ndarray, b: np.ndarray) -> dict:
    values = (a * b).sum(axis=1)
    return {"mean": round(float(values.mean()), 4), "min": round(float(values.min()), 4)}


def _as_queries(encoder: Encoder, passages: list[str], batch_size: int) -> np.ndarray:
    from qa.ingest.pipeline import embed_text

    return encoder.embed([embed_text(p) for p in passages[:64]], "query", batch_size)


def _passages_per_s(encoder: Encoder, passages: list[str], batch_size: int) -> tuple[float, np.ndarray]:
    """passages/s of one run, and the passage vectors it made."""
    from qa.ingest.pipeline import embed_passages

    start = time.perf_counter()
    vectors, _ = embed_passages(encoder, passages, batch_size)
    return len(passages) / (time.perf_counter() - start), vectors


def fp32_reference(passages: list[str], settings: Settings) -> Fp32Reference:
    """The configured model in torch fp32 on the CPU over `passages` (one run: it is the slow one)."""
    from embeddings.loader import load_encoder

    encoder = load_encoder(replace(settings, backend="torch", device="cpu"))
    rate, vectors = _passages_per_s(encoder, passages, settings.batch_size)
    return Fp32Reference(passages, vectors, _as_queries(encoder, passages, settings.batch_size), round(rate, 1))


def bench_embed(passages: list[str], settings: Settings, runs: int, reference: Fp32Reference | None = None) -> dict:
    """passages/s of the encoder the settings pick (median of `runs`), one query's ms, and its agreement
    with torch fp32 where a reference is given."""
    from embeddings.loader import load_encoder
    from qa.ingest.pipeline import embed_sentences

    start = time.perf_counter()
    encoder = load_encoder(settings)
    load_s = time.perf_counter() - start
    _passages_per_s(encoder, passages[:16], settings.batch_size)  # the first run allocates
    rates = [_passages_per_s(encoder, passages, settings.batch_size)[0] for _ in range(runs)]
    sentences = [sentence for passage in passages for sentence in embed_sentences(passage)]
    tokens = encoder.token_counts(sentences, "passage")
    out: dict = {
        "passages": len(passages), "mean_chars": round(statistics.mean(map(len, passages))),
        "sentences": len(sentences), "mean_sentence_tokens": round(statistics.mean(tokens), 1),
        "backend": encoder.backend, "device": encoder.device, "load_s": round(load_s, 2),
        "passages_per_s_runs": [round(r, 1) for r in rates], "passages_per_s": round(statistics.median(rates), 1),
        "tokens_per_s": round(statistics.median(rates) * sum(tokens) / len(passages)),
    }
    start = time.perf_counter()
    for query in QUERIES:
        encoder.embed_query(query)
    out["query_embed_ms"] = round((time.perf_counter() - start) * 1000 / len(QUERIES), 2)
    if reference is not None:
        out["cosine_vs_fp32_passage"] = _cosines(_passages_per_s(encoder, reference.passages, settings.batch_size)[1],
                                                 reference.passage_vectors)
        out["cosine_vs_fp32_query"] = _cosines(_as_queries(encoder, reference.passages, settings.batch_size),
                                               reference.query_vectors)
    return out


# -- ingest end to end -------------------------------------------------------------------------------
def bench_ingest(path: Path, n: int, settings: Settings) -> dict:
    """The first n stories into a fresh collection through the CLI's ingest (cleaning to index)."""
    from qa.cli import run_ingest
    from qa.index.collection import read_manifest

    with tempfile.TemporaryDirectory(prefix="speechqa-bench-") as tmp:
        start = time.perf_counter()
        _, total = run_ingest(replace(settings, data_dir=Path(tmp)), [path], limit=n)
        seconds = time.perf_counter() - start
        passages = read_manifest(Path(tmp)).get("passages", 0)
    return {"stories": n, "documents": total, "passages": passages, "seconds": round(seconds, 1),
            "docs_per_s": round(total / seconds, 1), "passages_per_s": round(passages / seconds, 1)}
