"""A bounded schemathesis run (scripts/fuzz_api.py) against the live OpenAPI description of a real server.

A few hundred requests here, the same ones every run (--seed); SPEECHQA_FUZZ_CASES sets how many per
operation and kind, and `scripts/fuzz_api.py --cases N` runs a longer, random one by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("schemathesis", reason="the schemathesis package (test extra) is not installed")

ROOT = Path(__file__).parents[1]


def test_the_fuzzer_finds_no_server_error_and_no_schema_violation(fake_server):
    cases = int(os.environ.get("SPEECHQA_FUZZ_CASES") or 20)
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "fuzz_api.py"), "--url", fake_server.url,
                             "--cases", str(cases), "--seed", "0", "--json"],
                            capture_output=True, text=True, timeout=600, cwd=ROOT)
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["failures"] == {}, json.dumps(report["failures"], ensure_ascii=False, indent=1)
    assert report["server_errors"] == 0
    assert result.returncode == 0, result.stderr[-2000:]
    operations = {"GET /healthz", "GET /api/search", "POST /api/search", "POST /api/similar", "GET /api/documents",
                  "POST /api/documents", "GET /api/documents/{doc_id}", "DELETE /api/documents/{doc_id}"}
    assert operations <= set(report["by_operation"])
    assert report["cases"] >= 12 * cases
    assert {"200", "400", "404", "422"} <= set(report["statuses"])  # answers, refusals and unknown ids all came up
