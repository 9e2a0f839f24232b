"""speechqa's benchmarks: one command, a line per measure on stdout, every figure as JSON (--out).

Parts, each run when its flag asks for it (scripts/benchmarks/ holds one module per kind):
  --clean N             cleaning docs/s over the first N stories (read -> clean -> metadata -> hash), time per stage
  --embed N             passages/s of the configured encoder (ONNX int8 on a CPU by default) over the passages of
                        the first N stories, embedded as ingest embeds them (a sentence at a time), and one
                        query's ms; on the GPU too when there is one.
                        --fp32-subset M adds torch fp32 on the first M passages: its speed, and the agreement
                        (cosine) of the other encoders with it
  --ingest N            end-to-end ingest of N stories into a fresh collection (cleaning to index)
  --api-collection DIR  search latency p50/p95/p99 over loopback with 1 and then 8 concurrent clients, every
                        request a distinct query; the server's peak memory, and a server's peak on the five sample
                        speeches (runtime, model, segmenter): the difference is what the collection costs
  --vectors SIZES       vector search ms/query (FAISS's default threads and one thread), build time and recall@10
                        of the collection's exact index (half-precision vectors) and of HNSW, on clustered
                        synthetic unit vectors of each size
  --phrase-collection DIR   phrase timeline p50 over a store of stories (built without vectors if DIR holds
                        none: the timeline reads only the store), the trigram index's size and memory
  --reuse-collection DIR    text reuse over a store of stories (built without vectors if DIR holds none): reuse of
                        random passages p50, the most reused passages (all, a year, series hidden), the reuse
                        index's cost at ingest (documents/s with and without it), on disk and in memory;
                        --reuse-milvus N: the same over N of its documents in Milvus Lite
  --changes-collection DIR  on a copy of DIR through a real server: upload -> searchable, upload and delete
                        return times, memory after --changes uploads + deletions, 8 searchers' p99 without and
                        with 1 writer, recall@10 afterwards; --changes-ingest N adds a CLI ingest into it vs
                        into an empty collection
  --soak DIR            on a copy of DIR through a real server: --soak-clients searchers and 1 writer (upload,
                        then delete what it added) for --soak-s seconds; errors of every request, search and
                        change p50/p95/p99, the server's memory at the start and the end (and every 10 s)
  --milvus-ingest N     the whole `speechqa ingest --limit N` command, embedded against Ray into Milvus Lite
  --milvus-archive DIR  search latency per mode over Milvus Lite holding --milvus-passages passages: DIR's
                        passages and documents repeated under new ids, with random vectors

Recall: recall@k of an index is the mean share of each query's exact top k that the index returns in its own
top k, "exact" being float32 inner-product search over the same vectors by FAISS's IndexFlatIP
(scripts/benchmarks/vectors.py); the exact index's half-precision copies are measured against it too. The
changes part reports the server's own figure (/healthz), which measures HNSW the same way on a sample of stored
vectors and does not measure the exact index (1.0).

The stories are ../shared/corpus/xwlb/stories.jsonl.gz next to the checkout; --corpus DIR (or SPEECHQA_CORPUS)
names another corpus folder. Queries and probe speeches come from stories after --fresh-from.

Examples:
    .venv/bin/python scripts/bench.py --clean 10000 --embed 500 --fp32-subset 256 --ingest 2000 \\
        --api-collection ~/sqa-20k --requests 40 --vectors 100000,1000000
    .venv/bin/python scripts/bench.py --clean 0 --embed 0 --ingest 0 --vectors 10000 --hnsw-max 10000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.benchmarks.corpus import FRESH_FROM, ROOT, BenchError, default_corpus, stories_file, story_passages
from scripts.benchmarks.timing import peak_rss_mb


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=default_corpus(),
                        help="corpus folder holding xwlb/stories.jsonl.gz (default $SPEECHQA_CORPUS or ../shared/corpus)")
    parser.add_argument("--fresh-from", type=int, default=FRESH_FROM,
                        help="queries and probe speeches come from the stories after this many (bench collections hold the first)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs where a part repeats; the median is reported")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-output" / "bench.json")

    text = parser.add_argument_group("cleaning, embedding, ingest")
    text.add_argument("--clean", type=int, default=10_000, help="stories for the cleaning benchmark (0 skips)")
    text.add_argument("--embed", type=int, default=500, help="stories whose passages are embedded (0 skips)")
    text.add_argument("--fp32-subset", type=int, default=0,
                      help="passages torch fp32 embeds too, for its speed and the others' agreement with it (0 skips)")
    text.add_argument("--ingest", type=int, default=500, help="stories for the end-to-end ingest (0 skips)")

    served = parser.add_argument_group("search through a server")
    served.add_argument("--api-collection", type=Path, help="collection directory to serve for the latency test")
    served.add_argument("--requests", type=int, default=60, help="requests per client in the latency test (1 client, then 8)")
    served.add_argument("--warm", type=int, default=40, help="distinct queries a server answers before it is timed")

    vectors = parser.add_argument_group("vector search alone")
    vectors.add_argument("--vectors", default="100000,1000000", help="comma-separated index sizes ('' skips)")
    vectors.add_argument("--hnsw-max", type=int, default=10_000_000, help="skip HNSW above this many vectors (its build is slow)")

    phrase = parser.add_argument_group("phrase timelines")
    phrase.add_argument("--phrase-collection", type=Path,
                        help="store for the phrase timeline benchmark (built from the stories, without vectors, if missing)")
    phrase.add_argument("--phrase-stories", type=int, default=None, help="stories in a new phrase store (default all)")

    reuse = parser.add_argument_group("text reuse")
    reuse.add_argument("--reuse-collection", type=Path,
                       help="store for the text reuse benchmark (built from the stories, without vectors, if missing)")
    reuse.add_argument("--reuse-stories", type=int, default=None, help="stories in a new reuse store (default all)")
    reuse.add_argument("--reuse-queries", type=int, default=200, help="random passages whose reuse is timed")
    reuse.add_argument("--reuse-milvus", type=int, default=0,
                       help="documents of that store copied into a Milvus Lite file, whose local reuse index is then "
                            "built from Milvus and timed (0 skips)")
    reuse.add_argument("--reuse-survey", type=int, default=0,
                       help="stories drawn for the survey of shared-run lengths the minimum run is chosen from (0 skips)")

    changes = parser.add_argument_group("uploads and deletions")
    changes.add_argument("--changes-collection", type=Path, help="collection to measure uploads and deletions on (a copy of it)")
    changes.add_argument("--changes", type=int, default=100, help="uploads and deletions in a row for --changes-collection")
    changes.add_argument("--changes-load-s", type=float, default=60, help="seconds of 8 searchers, without then with 1 writer")
    changes.add_argument("--changes-ingest", type=int, default=0,
                         help="stories ingested through the CLI into the copy and into an empty collection (0 skips)")

    soak = parser.add_argument_group("a soak of searches beside a writer")
    soak.add_argument("--soak", type=Path, help="collection to soak (a copy of it)")
    soak.add_argument("--soak-s", type=float, default=600, help="seconds the soak lasts")
    soak.add_argument("--soak-clients", type=int, default=4, help="searching clients beside the 1 writer")
    soak.add_argument("--soak-settle-s", type=float, default=60,
                      help="seconds of the same load before the soak's start is measured (its caches fill)")

    milvus = parser.add_argument_group("Milvus Lite and Ray")
    milvus.add_argument("--milvus-ingest", type=int, default=0, help="stories for the embedded vs Ray ingest (0 skips)")
    milvus.add_argument("--milvus-archive", type=Path, help="embedded collection whose passages fill Milvus Lite for the search test")
    milvus.add_argument("--milvus-passages", type=int, default=100_000, help="passages Milvus Lite holds for the search test")
    milvus.add_argument("--milvus-queries", type=Path, default=ROOT.parent / "shared" / "eval" / "archive_dev_questions.jsonl",
                        help="questions file (a JSON object with 'query' a line) for the Milvus search test")
    milvus.add_argument("--milvus-requests", type=int, default=60, help="searches per mode in the Milvus search test")
    return parser.parse_args(argv)


def machine() -> dict:
    try:
        import torch

        cuda = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        cuda = None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpus": cores, "platform": sys.platform, "cuda": cuda,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def run_text_parts(args: argparse.Namespace, settings, results: dict) -> None:
    """Cleaning, embedding and ingest: the stages of an ingest, alone and together."""
    from scripts.benchmarks.ingest import bench_clean, bench_embed, bench_ingest, fp32_reference

    stories = stories_file(args.corpus)
    if args.clean:
        c = results["clean"] = bench_clean(stories, args.clean, args.runs)
        stages = ", ".join(f"{stage} {s} s" for stage, s in c["median_run_seconds_by_stage"].items())
        print(f"clean   {c['docs_per_s']} docs/s (median of {args.runs}: {c['docs_per_s_runs']}; {stages})", flush=True)
    if args.embed:
        passages = story_passages(stories, args.embed)
        reference = None
        if args.fp32_subset:
            reference = fp32_reference(passages[: args.fp32_subset], settings)
            results["embed_fp32"] = {"passages": len(reference.passages), "passages_per_s": reference.passages_per_s}
            print(f"embed   torch fp32 on the CPU: {reference.passages_per_s} passages/s over the first "
                  f"{len(reference.passages)} passages (1 run)", flush=True)
        # The CPU figure always; the GPU's too where the default settings pick one.
        devices = [("embed", replace(settings, device="cpu"))] + ([("embed_gpu", settings)] if results["machine"]["cuda"] else [])
        for key, chosen in devices:
            e = results[key] = bench_embed(passages, chosen, args.runs, reference)
            agreement = (f"; cosine with fp32 {e['cosine_vs_fp32_passage']['mean']} (min {e['cosine_vs_fp32_passage']['min']}), "
                         f"queries {e['cosine_vs_fp32_query']['mean']}" if reference else "")
            print(f"embed   {e['passages_per_s']} passages/s on {e['device']} ({e['backend']}, {e['passages']} passages of "
                  f"{e['mean_chars']} chars read as {e['sentences']} sentences of {e['mean_sentence_tokens']} tokens, "
                  f"runs {e['passages_per_s_runs']}); one query {e['query_embed_ms']} ms{agreement}", flush=True)
    if args.ingest:
        i = results["ingest"] = bench_ingest(stories, args.ingest, settings)
        print(f"ingest  {i['stories']} stories -> {i['documents']} documents, {i['passages']} passages in {i['seconds']} s "
              f"({i['docs_per_s']} docs/s, {i['passages_per_s']} passages/s)", flush=True)


def run_api(args: argparse.Namespace, settings, results: dict) -> None:
    from scripts.benchmarks.serving import bench_api

    a = results["api"] = bench_api(args.api_collection, settings, stories_file(args.corpus), args.requests, args.warm,
                                   args.fresh_from)
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


def run_vectors(args: argparse.Namespace, results: dict) -> None:
    from scripts.benchmarks.vectors import bench_vectors

    results["vectors"] = bench_vectors([int(s) for s in args.vectors.split(",") if s.strip()], args.hnsw_max)
    for n, row in results["vectors"].items():
        for kind, label in (("flat", "exact (half precision)"), ("hnsw", "hnsw")):
            r = row[kind]
            print(f"vectors {n} {label}: " + (r["skipped"] if "skipped" in r else
                  f"{r['ms_per_query_p50']} ms/query ({r['ms_per_query_1_thread_p50']} on one thread), "
                  f"recall@10 {r['recall_at_10_vs_exact']}, build {r['build_s']} s"), flush=True)


def run_phrase(args: argparse.Namespace, results: dict) -> None:
    from qa.index.collection import STORE_FILE
    from scripts.benchmarks.phrase import bench_phrase

    # The stories are read only to build a store where there is none.
    stories = None if (args.phrase_collection / STORE_FILE).exists() else stories_file(args.corpus)
    p = results["phrase"] = bench_phrase(args.phrase_collection, stories, args.phrase_stories, args.runs)
    print(f"phrase  {p['documents']} documents: p50 {p['p50_ms']} ms over {len(p['phrases'])} phrases "
          f"(first query {p['first_query_s']} s); trigram index {p['index_mb']} MB on disk "
          f"(store {p['store_mb']} MB, document texts {p['documents_text_mb']} MB), memory +{p['rss_growth_mb']} MB", flush=True)
    print(f"          a two-character phrase ({p['short_phrase']['phrase']}, {p['short_phrase']['documents']} documents) "
          f"{p['short_phrase']['seconds']} s", flush=True)
    for phrase, row in p["phrases"].items():
        print(f"          {phrase}: {row['documents']} documents, {row['occurrences']} occurrences, p50 {row['p50_ms']} ms", flush=True)


def run_reuse(args: argparse.Namespace, results: dict) -> None:
    from scripts.benchmarks.reuse import ENTRY, bench_reuse

    # The stories are read only to build a store where there is none.
    stories = None if (args.reuse_collection / ENTRY).exists() else stories_file(args.corpus)
    r = results["reuse"] = bench_reuse(args.reuse_collection, stories, args.reuse_stories, args.reuse_queries)
    if "built" in r:
        b = r["built"]
        print(f"reuse   ingest of {b['documents']} documents ({b['passages']} passages): {b['docs_per_s_without']} docs/s "
              f"without the reuse index, {b['docs_per_s_with']} with it ({b['passages_per_s_without']} -> "
              f"{b['passages_per_s_with']} passages/s; index {b['reuse_index_s']} s + merge {b['merge_s']} s)", flush=True)
    p = r["passage"]
    print(f"reuse   {r['documents']} documents: reuse of a passage p50 {p['p50_ms']} ms, p95 {p['p95_ms']} ms, p99 "
          f"{p['p99_ms']} ms over {p['n']} random passages ({p['with_reuse']} with reuse; first query "
          f"{r['first_query_s']} s); index {r['index_mb']} MB on disk ({r['fingerprints']} fingerprints), "
          f"memory: heap +{r['heap_growth_mb']} MB, mapped pages read +{r['mapped_growth_mb']} MB", flush=True)
    for label, t in r["top"].items():
        print(f"          most reused ({label}): {t['seconds']} s, {t['passages']} passages, "
              f"{t['candidates_checked']} candidates checked", flush=True)
    if args.reuse_milvus:
        from scripts.benchmarks.reuse_milvus import bench_milvus_reuse

        m = results["reuse_milvus"] = bench_milvus_reuse(args.reuse_collection, args.reuse_milvus,
                                                         args.reuse_collection.parent / "reuse-milvus", args.reuse_queries)
        print(f"reuse   on Milvus Lite, {m['documents']} documents ({m['passages']} passages, copied in {m['copy_s']} s): "
              f"the reuse index built from Milvus in {m['first_start_s']} s, loaded and compared in "
              f"{m['restart_s']} s; reuse of a passage p50 {m['passage']['p50_ms']} ms, p95 {m['passage']['p95_ms']} ms; "
              f"most reused {m['top_s']} s; {m['index_mb']} MB on disk", flush=True)
    if args.reuse_survey:
        from scripts.benchmarks.reuse import survey_run_lengths

        s = results["reuse_survey"] = survey_run_lengths(args.reuse_collection, args.reuse_survey)
        print(f"reuse   longest run shared with another story, {s['sampled']} of {s['stories']} stories drawn "
              f"({s['pairs']} pairs sharing 20 characters or more):", flush=True)
        for row in s["buckets"]:
            print(f"          {row['from']}-{row['below'] - 1 if row['below'] else ''}: {row['pairs']} pairs "
                  f"({100 * row['share']:.1f}%)", flush=True)


def run_changes(args: argparse.Namespace, settings, results: dict) -> None:
    from scripts.benchmarks.serving import bench_changes

    c = results["changes"] = bench_changes(args.changes_collection, settings, stories_file(args.corpus), args.changes,
                                           args.changes_load_s, args.changes_ingest, args.warm, args.fresh_from)
    print(f"changes {c['collection']['passages']} passages ({c['collection']['index']}): upload returns p50 "
          f"{c['upload_returns']['p50_ms']} ms (p99 {c['upload_returns']['p99_ms']}), searchable "
          f"{c['upload_to_searchable']['p50_ms']} ms after (p50); delete returns p50 {c['delete_returns']['p50_ms']} ms, "
          f"found after deletion {c['deleted_yet_found']} times; memory {c['memory_mb']['before']} -> "
          f"{c['memory_mb']['after']} MB ({c['memory_mb']['change_pct']}%) after {c['upload_returns']['n']} uploads + deletions",
          flush=True)
    quiet, busy = c["search_8_clients"], c["search_8_clients_1_writer"]
    print(f"changes 8 searchers: p99 {quiet['p99_ms']} ms alone, {busy['p99_ms']} ms beside 1 writer "
          f"({busy['errors']} errors in {busy['n']} searches); recall@10 {c['recall_at_10']}", flush=True)
    if "cli_ingest" in c:
        i = c["cli_ingest"]
        print(f"changes CLI ingest of {i['stories']} stories (median of 3): {i['into_collection_s']} s into it, "
              f"{i['into_empty_s']} s into an empty collection ({i['overhead_pct']:+}%; runs {i['runs']})", flush=True)


def run_soak(args: argparse.Namespace, settings, results: dict) -> None:
    from scripts.benchmarks.soak import bench_soak

    s = results["soak"] = bench_soak(args.soak, settings, stories_file(args.corpus), args.soak_s, args.soak_clients,
                                     args.warm, args.fresh_from, args.soak_settle_s)
    memory = s["memory_mb"]
    print(f"soak    {s['clients']} searchers + 1 writer for {s['seconds']:.0f} s over {s['collection']['passages']} "
          f"passages: {s['errors']} errors in {s['search']['n']} searches and {s['change']['n']} changes; search p50 "
          f"{s['search']['p50_ms']} ms, p99 {s['search']['p99_ms']} ms; change p99 {s['change']['p99_ms']} ms; "
          f"memory {memory['start']} -> {memory['end']} MB ({memory['change_pct']:+}%; {memory['idle']} MB at idle, "
          f"before {s['settle_s']:.0f} s of the same load)", flush=True)


def run_milvus(args: argparse.Namespace, settings, results: dict) -> None:
    from scripts.benchmarks.milvus import bench_milvus_ingest, bench_milvus_search

    if args.milvus_ingest:
        m = results["milvus_ingest"] = bench_milvus_ingest(stories_file(args.corpus), args.milvus_ingest, args.runs, settings)
        print(f"milvus  `speechqa ingest` of {m['records']} stories ({m['passages']} passages): embedded "
              f"{m['embedded']['passages_per_s']} passages/s (runs {m['embedded']['passages_per_s_runs']}), Ray into Milvus "
              f"Lite {m['ray']['passages_per_s']} (runs {m['ray']['passages_per_s_runs']})", flush=True)
    if args.milvus_archive:
        s = results["milvus_search"] = bench_milvus_search(args.milvus_archive, args.milvus_passages, args.milvus_queries,
                                                           args.milvus_requests, settings)
        modes = ", ".join(f"{mode} p50 {s[mode]['p50_ms']} ms (p95 {s[mode]['p95_ms']})" for mode in ("hybrid", "dense", "lexical"))
        print(f"milvus  search over {s['passages']} passages in Milvus Lite: {modes}; vector search alone "
              f"{s['vector_search_only_ms']} ms", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from qa.settings import Settings

    settings = Settings.from_env()
    results: dict = {"machine": machine()}
    try:
        if args.clean or args.embed or args.ingest:
            run_text_parts(args, settings, results)
        if args.api_collection:
            run_api(args, settings, results)
        if args.phrase_collection:
            run_phrase(args, results)
        if args.reuse_collection:
            run_reuse(args, results)
        if args.vectors.strip():
            run_vectors(args, results)
        if args.changes_collection:
            run_changes(args, settings, results)
        if args.soak:
            run_soak(args, settings, results)
        if args.milvus_ingest or args.milvus_archive:
            run_milvus(args, settings, results)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["bench_peak_rss_mb"] = round(peak_rss_mb(), 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
