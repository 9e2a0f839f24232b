"""Throughput of the text pipeline without embedding: read -> clean -> metadata -> content hash.

Reads the first N records of a JSONL(.gz) collection through ``read_path`` three times and
prints docs/s for each run, the median, and where the time went.

Example:
    .venv/bin/python scripts/bench_clean.py --limit 10000
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.ingest.cleaning import clean_text
from qa.ingest.metadata import content_hash, extract_metadata
from qa.ingest.readers import read_path
from qa.types import RawDocument

DEFAULT_COLLECTION = Path("/work/shared/corpus/xwlb/stories.jsonl.gz")


def run_once(path: Path, limit: int) -> tuple[int, int, dict[str, float]]:
    """One pass; returns (documents, rejections, seconds per stage)."""
    stages: defaultdict[str, float] = defaultdict(float)
    docs = rejected = 0
    clock = time.perf_counter
    items = itertools.islice(read_path(path), limit)
    while True:
        start = clock()
        item = next(items, None)
        stages["read"] += clock() - start
        if item is None:
            break
        if not isinstance(item, RawDocument):
            rejected += 1
            continue
        start = clock()
        cleaned = clean_text(item.text)
        after_clean = clock()
        extract_metadata(item, cleaned)
        after_metadata = clock()
        content_hash(cleaned)
        stages["clean"] += after_clean - start
        stages["metadata"] += after_metadata - after_clean
        stages["content_hash"] += clock() - after_metadata
        docs += 1
    return docs, rejected, stages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "path", nargs="?", type=Path, default=DEFAULT_COLLECTION, help="a .jsonl or .jsonl.gz collection"
    )
    parser.add_argument("--limit", type=int, default=10_000, help="records per run (default 10000)")
    parser.add_argument("--runs", type=int, default=3, help="number of runs (default 3)")
    args = parser.parse_args(argv)
    if not args.path.exists():
        print(f"error: {args.path} not found; pass a JSONL collection", file=sys.stderr)
        return 2
    content_hash(clean_text("預熱 warm-up"))  # load OpenCC once, outside the timing
    rates = []
    for run in range(1, args.runs + 1):
        start = time.perf_counter()
        docs, rejected, stages = run_once(args.path, args.limit)
        elapsed = time.perf_counter() - start
        rates.append(docs / elapsed)
        split = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in sorted(stages.items(), key=lambda kv: -kv[1]))
        print(
            f"run {run}: {docs} docs ({rejected} rejected) in {elapsed:.2f}s = {docs / elapsed:,.0f} docs/s [{split}]"
        )
    print(f"median: {statistics.median(rates):,.0f} docs/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
