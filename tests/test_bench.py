"""scripts/bench.py keeps working: its vector part end to end, on a size CI can afford."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_vector_benchmark_reports_speed_and_recall(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "scripts/bench.py", "--clean", "0", "--embed", "0", "--ingest", "0", "--vectors", "3000",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "vectors 3000: exact" in done.stdout
    row = json.loads(out.read_text())["vectors"]["3000"]
    assert row["flat"]["recall_at_10_vs_exact"] >= 0.99 and row["hnsw"]["recall_at_10_vs_exact"] >= 0.9
    assert row["flat"]["ms_per_query_p50"] > 0 and row["hnsw"]["ms_per_query_p50"] > 0
