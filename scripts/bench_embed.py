"""Embedding throughput of the default model per backend, and vector search at scale.

Prints a table and writes the figures as JSON (--out). Parts:
  passages  the first N xwlb stories through read_path -> clean_text -> chunk_text (or, when the qa
            pipeline does not import, an HTML strip and 300-character windows; the output says which)
  embed     passages/s of onnx-int8 over all passages (median of --runs), torch fp32 on a subset,
            torch fp16 on CUDA when there is a GPU; cosine agreement of each with fp32 on the subset
  vectors   ms/query (median of 100 single-query searches; FAISS's default threads and one thread) for
            flat and HNSW at each --sizes, with build time and HNSW recall@10 against exact search, on
            Gaussian-mixture unit vectors
  memory    peak RSS (getrusage maxrss) after each part

Example:
    .venv/bin/python scripts/bench_embed.py --stories 2000 --fp32-subset 256 --sizes 10000,100000,1000000 --hnsw-max 100000
"""

from __future__ import annotations

import argparse
import gzip
import html
import itertools
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy, torch and the encoders load inside the parts that use them
    import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

XWLB = Path("/work/shared/corpus/xwlb/stories.jsonl.gz")
WINDOW_CHARS = 300
QUERIES = [
    "如何加快工业发展", "招商引资进度为什么落后", "乡村振兴战略", "疫情防控和经济社会发展", "高质量发展",
    "固定资产投资统计口径是怎么调整的", "生态环境保护", "科技创新", "中央经济工作会议", "脱贫攻坚",
    "What should companies do about saving energy?", "創建市級、國家高新區",
]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


# -- passages ----------------------------------------------------------------------------------------
def pipeline_passages(path: Path, n_stories: int) -> list[str]:
    from qa.ingest.chunking import chunk_text
    from qa.ingest.cleaning import clean_text
    from qa.ingest.readers import read_path
    from qa.types import RawDocument

    records = (record for record in read_path(path) if isinstance(record, RawDocument))
    return [chunk.text for record in itertools.islice(records, n_stories) for chunk in chunk_text(clean_text(record.text))]


def window_passages(path: Path, n_stories: int) -> list[str]:
    passages: list[str] = []
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in itertools.islice(lines, n_stories):
            text = html.unescape(re.sub(r"<[^>]+>", " ", json.loads(line).get("content_html") or ""))
            text = re.sub(r"\s+", " ", text).strip()
            passages.extend(text[i : i + WINDOW_CHARS] for i in range(0, len(text), WINDOW_CHARS))
    return [p for p in passages if len(p) >= 20]


def load_passages(path: Path, n_stories: int) -> tuple[list[str], str]:
    try:
        return pipeline_passages(path, n_stories), "qa pipeline: read_path + clean_text + chunk_text"
    except ImportError as exc:
        return window_passages(path, n_stories), f"regex HTML strip + {WINDOW_CHARS}-char windows ({exc})"


# -- embed -------------------------------------------------------------------------------------------
def throughput(encoder, texts: list[str], runs: int, batch_size: int) -> list[float]:
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        encoder.embed(texts, "passage", batch_size)
        rates.append(len(texts) / (time.perf_counter() - start))
    return rates


def cosines(a, b) -> dict:
    import numpy as np

    values = (np.asarray(a) * np.asarray(b)).sum(axis=1)
    return {"mean": round(float(values.mean()), 4), "min": round(float(values.min()), 4)}


def convert_in_child(model_dir: Path, cache_dir: Path) -> dict:
    """Convert (or find) the ONNX model in a child process, so the torch export's memory peak is its own."""
    from embeddings.onnx_encoder import BACKEND

    cached = (cache_dir / f"{model_dir.name}-{BACKEND}").exists()
    script = ("import sys; from pathlib import Path; from embeddings.onnx_encoder import OnnxEncoder; "
              "OnnxEncoder.from_sentence_transformer_dir(Path(sys.argv[1]), name='m', cache_dir=Path(sys.argv[2]))")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", script, str(model_dir), str(cache_dir)], cwd=ROOT, check=True)
    return {"cached_before": cached, "seconds": round(time.perf_counter() - start, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)}


def bench_embed(passages: list[str], cache_dir: Path, runs: int, fp32_subset: int, batch_size: int) -> dict:
    from tokenizers import Tokenizer

    from embeddings.bundled import BUNDLED_MODEL_NAME, ensure_bundled_model
    from embeddings.onnx_encoder import OnnxEncoder
    from embeddings.prompts import E5_PROMPTS
    from embeddings.st_encoder import SentenceTransformerEncoder

    model_dir = ensure_bundled_model(cache_dir / "models")
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokens = [min(512, len(e.ids)) for e in tokenizer.encode_batch([E5_PROMPTS["passage"] + p for p in passages])]
    subset = passages[:fp32_subset]
    out: dict = {"passages": len(passages), "mean_chars": round(statistics.mean(map(len, passages)), 1),
                 "mean_tokens": round(statistics.mean(tokens), 1), "fp32_subset": len(subset)}

    out["onnx_conversion"] = convert_in_child(model_dir, cache_dir / "models")
    start = time.perf_counter()
    onnx = OnnxEncoder.from_sentence_transformer_dir(model_dir, name=BUNDLED_MODEL_NAME, cache_dir=cache_dir / "models")
    out["onnx_load_s"] = round(time.perf_counter() - start, 2)
    onnx.embed(passages[:32], "passage", batch_size)  # first calls allocate
    rates = throughput(onnx, passages, runs, batch_size)
    query_ms = []
    for query in QUERIES * 5:
        start = time.perf_counter()
        onnx.embed_query(query)
        query_ms.append((time.perf_counter() - start) * 1000)
    out["onnx-int8"] = {"passages_per_s": round(statistics.median(rates), 1), "runs": [round(r, 1) for r in rates],
                        "tokens_per_s": round(statistics.median(rates) * statistics.mean(tokens)),
                        "embed_query_ms_median": round(statistics.median(query_ms), 1)}
    out["peak_rss_mb_after_onnx"] = round(peak_rss_mb())

    fp32 = SentenceTransformerEncoder(str(model_dir), name=BUNDLED_MODEL_NAME, device="cpu")
    start = time.perf_counter()
    reference = fp32.embed(subset, "passage", batch_size)
    fp32_rate = len(subset) / (time.perf_counter() - start)
    query_subset = subset[:64]
    query_reference = fp32.embed(query_subset, "query", batch_size)
    out["torch-fp32"] = {"passages_per_s": round(fp32_rate, 1), "on": f"first {len(subset)} passages, 1 run"}
    out["onnx-int8"]["cosine_vs_fp32_passage"] = cosines(onnx.embed(subset, "passage", batch_size), reference)
    out["onnx-int8"]["cosine_vs_fp32_query"] = cosines(onnx.embed(query_subset, "query", batch_size), query_reference)
    del fp32

    import torch

    if torch.cuda.is_available():
        gpu = SentenceTransformerEncoder(str(model_dir), name=BUNDLED_MODEL_NAME, device="cuda")
        gpu.embed(passages[:64], "passage", 128)
        gpu_rates = throughput(gpu, passages, runs, 128)
        out["torch-fp16-cuda"] = {"passages_per_s": round(statistics.median(gpu_rates), 1), "runs": [round(r, 1) for r in gpu_rates],
                                  "device": torch.cuda.get_device_name(0),
                                  "cosine_vs_fp32_passage": cosines(gpu.embed(subset, "passage", 128), reference)}
    out["speedup_onnx_vs_fp32"] = round(out["onnx-int8"]["passages_per_s"] / fp32_rate, 2)
    out["peak_rss_mb"] = round(peak_rss_mb())
    return out


# -- vectors -----------------------------------------------------------------------------------------
def mixture_unit_vectors(n: int, dim: int, rng, centres) -> np.ndarray:
    """Unit vectors around topic centres that share one direction, as e5 embeddings do: on xwlb passages
    unrelated pairs meet at cosine ~0.86 and nearest neighbours at ~0.93; these at ~0.85 and ~0.93."""
    import numpy as np

    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        labels = rng.integers(0, len(centres), stop - start)
        block = centres[labels] + rng.standard_normal((stop - start, dim), dtype=np.float32) * (0.27 / np.sqrt(dim))
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def search_ms(index, queries) -> float:
    """Median milliseconds of one single-query top-10 search."""
    times = []
    for query in queries:
        start = time.perf_counter()
        index.search(query[None, :], 10)
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 3)


def bench_vectors(sizes: list[int], hnsw_max: int, n_queries: int = 100, dim: int = 384) -> dict:
    import faiss
    import numpy as np

    from qa.index.vector_index import VectorIndex

    results: dict = {}
    for n in sizes:
        rng = np.random.default_rng(n)
        shared = rng.standard_normal(dim, dtype=np.float32)
        topics = rng.standard_normal((max(64, n // 500), dim), dtype=np.float32)
        topics = topics / np.linalg.norm(topics, axis=1, keepdims=True)
        centres = 3.2 * shared / np.linalg.norm(shared) + topics
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        base = mixture_unit_vectors(n, dim, rng, centres)
        queries = mixture_unit_vectors(n_queries, dim, rng, centres)
        ids = np.arange(n, dtype=np.int64)
        row: dict = {"mean_cosine_random_pair": round(float((base[: n // 2][:2000] * base[n // 2 :][:2000]).sum(1).mean()), 3)}
        exact: list = []
        for kind in ("flat", "hnsw"):
            if kind == "hnsw" and n > hnsw_max:
                row[kind] = {"skipped": f"over --hnsw-max {hnsw_max}"}
                continue
            index = VectorIndex(dim, kind)
            start = time.perf_counter()
            for block in range(0, n, 100_000):
                index.add(ids[block : block + 100_000], base[block : block + 100_000])
            build_s = time.perf_counter() - start
            found = [set(index.search(query[None, :], 10)[1][0].tolist()) for query in queries]
            result = {"build_s": round(build_s, 1), "ms_per_query": search_ms(index, queries)}
            # FAISS parallelises even one query with OpenMP, whose barriers stall when other processes
            # hold the cores; one thread shows what a single query costs without them.
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            result["ms_per_query_1_thread"] = search_ms(index, queries)
            faiss.omp_set_num_threads(threads)
            if kind == "flat":
                exact = found
            else:
                result["recall_at_10"] = round(statistics.mean(len(a & b) / 10 for a, b in zip(found, exact, strict=True)), 4)
            row[kind] = result
            del index
        row["peak_rss_mb"] = round(peak_rss_mb())
        results[str(n)] = row
        del base
    return results


# -- report ------------------------------------------------------------------------------------------
def print_table(report: dict) -> None:
    embed = report.get("embed")
    if embed:
        print(f"passages: {embed['passages']} from {report['stories']} stories ({report['passage_source']}); "
              f"mean {embed['mean_chars']} chars, {embed['mean_tokens']} tokens")
        print(f"{'backend':<18}{'passages/s':>12}{'cos mean':>10}{'cos min':>9}  note")
        for name in ("onnx-int8", "torch-fp32", "torch-fp16-cuda"):
            if name in embed:
                row = embed[name]
                cos = row.get("cosine_vs_fp32_passage", {"mean": 1.0, "min": 1.0} if name == "torch-fp32" else {})
                runs = len(row.get("runs", []))
                note = row.get("on") or (f"median of {runs} runs" if runs > 1 else "1 run")
                if name == "onnx-int8":
                    note += f"; query cos {row['cosine_vs_fp32_query']['mean']}; embed_query {row['embed_query_ms_median']} ms"
                print(f"{name:<18}{row['passages_per_s']:>12}{cos.get('mean', ''):>10}{cos.get('min', ''):>9}  {note}")
        conversion = embed["onnx_conversion"]
        print(f"onnx conversion {'(cached) ' if conversion['cached_before'] else ''}{conversion['seconds']} s, peak RSS "
              f"{conversion['peak_rss_mb']} MB; onnx load {embed['onnx_load_s']} s; onnx/fp32 speedup {embed['speedup_onnx_vs_fp32']}x; "
              f"peak RSS {embed['peak_rss_mb_after_onnx']} MB with onnx, {embed['peak_rss_mb']} MB with torch too")
    vectors = report.get("vectors")
    if vectors:
        print(f"\n{'vectors':>9}{'flat ms/q':>11}{'1 thread':>10}{'hnsw ms/q':>11}{'1 thread':>10}{'recall@10':>11}"
              f"{'hnsw build s':>14}{'peak RSS MB':>13}")
        for n, row in vectors.items():
            flat, hnsw = row["flat"], row["hnsw"]
            print(f"{n:>9}{flat['ms_per_query']:>11}{flat['ms_per_query_1_thread']:>10}{hnsw.get('ms_per_query', '-'):>11}"
                  f"{hnsw.get('ms_per_query_1_thread', '-'):>10}{hnsw.get('recall_at_10', '-'):>11}{hnsw.get('build_s', '-'):>14}"
                  f"{row['peak_rss_mb']:>13}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=2000, help="xwlb stories whose passages are embedded (0 skips embedding)")
    parser.add_argument("--corpus", type=Path, default=XWLB, help="a stories .jsonl.gz with content_html")
    parser.add_argument("--runs", type=int, default=3, help="timed onnx-int8 (and GPU) runs; the median is reported")
    parser.add_argument("--fp32-subset", type=int, default=256, help="passages embedded by torch fp32 (slow) for speed and agreement")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated vector counts ('' skips)")
    parser.add_argument("--hnsw-max", type=int, default=1_000_000, help="skip HNSW above this many vectors (its build is slow)")
    parser.add_argument("--cache-dir", type=Path, help="model cache (default: SPEECHQA_CACHE or the user cache)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-output" / "bench_embed.json")
    args = parser.parse_args(argv)

    from qa.settings import Settings

    cache_dir = args.cache_dir or Settings.from_env(os.environ).cache_dir
    report: dict = {"cpu_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()], "stories": args.stories}
    if args.stories:
        passages, source = load_passages(args.corpus, args.stories)
        report["passage_source"] = source
        report["embed"] = bench_embed(passages, cache_dir, args.runs, args.fp32_subset, args.batch_size)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if sizes:
        report["vectors"] = bench_vectors(sizes, args.hnsw_max)
    report["peak_rss_mb"] = round(peak_rss_mb())
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    print_table(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
