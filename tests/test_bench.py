"""scripts/bench.py: every part runs end to end on tiny sizes and reports what it measured.

The stories are the five sample speeches written as an xwlb stories file; the collections served are the
seed collection (tests/conftest.py). The parts that embed or serve run the bundled model (marked `model`). The
recall definition is checked against a brute-force float32 search.
"""

from __future__ import annotations

import gzip
import html
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, SEEDS

_spec = importlib.util.spec_from_file_location("bench", ROOT / "scripts" / "bench.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)  # puts the repository on sys.path, so scripts.benchmarks imports below

from scripts.benchmarks import corpus as bench_corpus  # noqa: E402
from scripts.benchmarks.phrase import PHRASES  # noqa: E402
from scripts.benchmarks.vectors import exact_neighbours, recall_at_k  # noqa: E402


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A corpus folder whose xwlb stories are the five sample speeches, one story each, a <p> a line."""
    folder = tmp_path_factory.mktemp("corpus")
    (folder / "xwlb").mkdir()
    with gzip.open(folder / "xwlb" / "stories.jsonl.gz", "wt", encoding="utf-8") as stories:
        for day, speech in enumerate(sorted(SEEDS.glob("*.txt")), 1):
            lines = [line.strip() for line in speech.read_text(encoding="utf-8").splitlines() if line.strip()]
            record = {"title": lines[0], "pub_date": f"2020-01-0{day} 19:00:00",
                      "content_html": "".join(f"<p>{html.escape(line)}</p>" for line in lines)}
            stories.write(json.dumps(record, ensure_ascii=False) + "\n")
    return folder


@pytest.fixture
def run_bench(corpus, tmp_path, model_cache_dir, monkeypatch, capsys):
    """scripts/bench.py's main with every part off but those asked for; returns (exit code, JSON, stdout)."""
    monkeypatch.setenv("SPEECHQA_CACHE", str(model_cache_dir))
    for name in ("SPEECHQA_DATA", "SPEECHQA_INDEX", "SPEECHQA_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    def run(*args: str) -> tuple[int, dict, str]:
        out = tmp_path / "bench.json"
        code = bench.main(["--corpus", str(corpus), "--fresh-from", "0", "--runs", "1", "--clean", "0", "--embed", "0",
                           "--ingest", "0", "--vectors", "", *args, "--out", str(out)])
        printed = capsys.readouterr()
        return code, json.loads(out.read_text()) if code == 0 else {}, printed.out + printed.err

    return run


def test_the_corpus_is_next_to_the_checkout_unless_named(monkeypatch):
    monkeypatch.delenv("SPEECHQA_CORPUS", raising=False)
    assert bench_corpus.default_corpus() == ROOT.parent / "shared" / "corpus"
    monkeypatch.setenv("SPEECHQA_CORPUS", "/somewhere/corpus")
    assert bench_corpus.default_corpus() == Path("/somewhere/corpus")


def test_a_missing_corpus_is_named_with_the_way_out(run_bench, tmp_path):
    code, _, printed = run_bench("--corpus", str(tmp_path / "nowhere"), "--clean", "1")
    assert code == 2
    assert printed == (f"error: no xwlb stories at {tmp_path / 'nowhere' / 'xwlb' / 'stories.jsonl.gz'}: pass --corpus DIR, "
                       "a folder holding xwlb/stories.jsonl.gz (default ../shared/corpus next to the checkout), "
                       "or set SPEECHQA_CORPUS\n")


def test_recall_is_measured_against_float32_inner_product_search():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((300, 16)).astype(np.float32)
    queries = rng.standard_normal((7, 16)).astype(np.float32)
    brute_force = np.argsort(-(queries @ base.T), axis=1, kind="stable")[:, :5]
    assert exact_neighbours(base, queries, 5).tolist() == brute_force.tolist()
    assert recall_at_k(np.array([[0, 1, 2], [3, 4, 9]]), np.array([[2, 1, 0], [3, 4, 5]])) == pytest.approx(5 / 6)


def test_vectors_part(run_bench):
    code, results, printed = run_bench("--vectors", "1500,3000", "--hnsw-max", "2000")
    assert code == 0, printed
    small, large = results["vectors"]["1500"], results["vectors"]["3000"]
    assert small["flat"]["recall_at_10_vs_exact"] >= 0.99 and small["hnsw"]["recall_at_10_vs_exact"] >= 0.95
    assert small["hnsw"]["ms_per_query_p50"] > 0 and small["hnsw"]["ms_per_query_1_thread_p50"] > 0
    assert large["hnsw"] == {"skipped": "over --hnsw-max 2000"} and large["flat"]["recall_at_10_vs_exact"] >= 0.99
    assert "vectors 3000 hnsw: over --hnsw-max 2000" in printed


@pytest.mark.model  # embeds with the bundled model
def test_clean_embed_and_ingest_parts(run_bench, corpus):
    code, results, printed = run_bench("--clean", "5", "--embed", "1", "--fp32-subset", "4", "--ingest", "2")
    assert code == 0, printed
    clean = results["clean"]
    assert (clean["documents"], clean["rejected"]) == (5, 0) and clean["docs_per_s"] > 0
    assert set(clean["median_run_seconds_by_stage"]) == {"read", "clean", "metadata", "content_hash"}
    stories = bench_corpus.stories_file(corpus)
    passages = len(bench_corpus.story_passages(stories, 1))
    embed = results["embed"]
    assert (embed["passages"], embed["device"], embed["backend"]) == (passages, "cpu", "onnx-int8")
    assert embed["sentences"] > embed["passages"] and embed["passages_per_s"] > 0 and embed["query_embed_ms"] > 0
    assert embed["cosine_vs_fp32_passage"]["mean"] > 0.99 and embed["cosine_vs_fp32_query"]["mean"] > 0.99
    assert results["embed_fp32"]["passages"] == 4 and results["embed_fp32"]["passages_per_s"] > 0
    ingest = results["ingest"]
    assert (ingest["stories"], ingest["documents"], ingest["passages"]) == (2, 2, len(bench_corpus.story_passages(stories, 2)))
    assert "ingest  2 stories -> 2 documents" in printed


def test_api_part(run_bench, seed_collection_dir):
    code, results, printed = run_bench("--api-collection", str(seed_collection_dir), "--requests", "1", "--warm", "2")
    assert code == 0, printed
    api = results["api"]
    assert api["clients_1"]["n"] == 1 and api["clients_8"]["n"] == 8
    assert api["collection"]["index"] == "flat" and api["collection"]["passages"] > 0
    assert api["server_peak_rss_mb"] > 0 and api["server_peak_rss_sample_collection_mb"] > 0
    assert "api     8 client(s): p50" in printed


def test_phrase_part_builds_a_store_then_reads_it(run_bench, tmp_path):
    store = tmp_path / "phrase-store"
    code, results, printed = run_bench("--phrase-collection", str(store), "--phrase-stories", "5")
    assert code == 0, printed
    assert results["phrase"]["built"]["documents"] == 5 and results["phrase"]["documents"] == 5
    assert list(results["phrase"]["phrases"]) == PHRASES
    code, again, printed = run_bench("--phrase-collection", str(store), "--corpus", str(tmp_path / "not-needed"))
    assert code == 0, printed
    assert "built" not in again["phrase"]
    found = {phrase: (row["documents"], row["occurrences"]) for phrase, row in results["phrase"]["phrases"].items()}
    assert {phrase: (row["documents"], row["occurrences"]) for phrase, row in again["phrase"]["phrases"].items()} == found
    assert found["高质量发展"] == (1, 8)


def test_changes_part(run_bench, seed_collection_dir):
    code, results, printed = run_bench("--changes-collection", str(seed_collection_dir), "--changes", "2",
                                       "--changes-load-s", "0.5", "--changes-ingest", "1", "--warm", "2")
    assert code == 0, printed
    changes = results["changes"]
    assert changes["upload_returns"]["n"] == 2 and changes["upload_to_searchable"]["n"] == 2
    assert changes["deleted_yet_found"] == 0 and changes["recall_at_10"] == 1.0
    assert changes["search_8_clients"]["errors"] == 0 and changes["search_8_clients_1_writer"]["errors"] == 0
    assert [len(runs) for runs in changes["cli_ingest"]["runs"].values()] == [3, 3]


def test_milvus_search_part(run_bench, seed_collection_dir, tmp_path):
    pytest.importorskip("pymilvus")
    questions = tmp_path / "questions.jsonl"
    questions.write_text("".join(json.dumps({"query": q}, ensure_ascii=False) + "\n" for q in bench_corpus.QUERIES[:3]),
                         encoding="utf-8")
    code, results, printed = run_bench("--milvus-archive", str(seed_collection_dir), "--milvus-passages", "300",
                                       "--milvus-requests", "2", "--milvus-queries", str(questions))
    assert code == 0, printed
    search = results["milvus_search"]
    assert search["passages"] == 300
    assert all(search[mode]["p50_ms"] > 0 for mode in ("dense", "lexical", "hybrid"))


@pytest.mark.model  # embeds with the bundled model
def test_milvus_ingest_part(run_bench, one_ray_cluster_at_a_time):
    pytest.importorskip("pymilvus")
    pytest.importorskip("ray")
    code, results, printed = run_bench("--milvus-ingest", "1")
    assert code == 0, printed
    ingest = results["milvus_ingest"]
    assert ingest["passages"] > 0 and ingest["embedded"]["passages_per_s"] > 0 and ingest["ray"]["passages_per_s"] > 0


def test_reuse_part_builds_a_store_and_its_reuse_index_then_reads_them(run_bench, tmp_path):
    store = tmp_path / "reuse-store"
    code, results, printed = run_bench("--reuse-collection", str(store), "--reuse-stories", "5", "--reuse-queries", "3",
                                       "--reuse-survey", "5")
    assert code == 0, printed
    reuse = results["reuse"]
    assert reuse["built"]["documents"] == 5 == reuse["documents"] and reuse["passage"]["n"] == 3
    assert reuse["built"]["docs_per_s_with"] < reuse["built"]["docs_per_s_without"]
    assert set(reuse["top"]) == {"all", "range", "all_hide_series"} and reuse["index_mb"] > 0
    assert [row["from"] for row in results["reuse_survey"]["buckets"]][:2] == [20, 24]
    code, again, printed = run_bench("--reuse-collection", str(store), "--reuse-queries", "3",
                                     "--corpus", str(tmp_path / "not-needed"))
    assert code == 0, printed
    assert "built" not in again["reuse"] and again["reuse"]["passage"]["with_reuse"] == reuse["passage"]["with_reuse"]
    assert "reuse of a passage p50" in printed
