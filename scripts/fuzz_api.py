#!/usr/bin/env python3
"""Fuzz the JSON API from its own OpenAPI description with schemathesis, against a real server.

Every operation of /openapi.json gets `--cases` generated requests that fit the schema (positive) and
as many that break it (negative); each response is checked by schemathesis' checks: no status >= 500,
status codes, content types, headers and bodies as declared, schema-breaking requests refused with 4xx.
Prints one line per operation and a summary, and exits 1 when anything failed.

    .venv/bin/python scripts/fuzz_api.py --cases 200                # a server over two sample speeches
    .venv/bin/python scripts/fuzz_api.py --url http://127.0.0.1:8000 --cases 50

Without --url it ingests two of the bundled sample speeches into a temporary collection and serves it
(SPEECHQA_CACHE is used for the converted model, as everywhere). The run changes the collection it is
pointed at: it uploads and deletes documents, so never point it at a collection you care about.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class FuzzReport:
    cases: Counter = field(default_factory=Counter)  # operation -> requests sent
    statuses: Counter = field(default_factory=Counter)  # status -> responses
    failures: dict[str, list[str]] = field(default_factory=dict)  # "operation: check" -> examples (first few)

    @property
    def total(self) -> int:
        return sum(self.cases.values())

    def as_dict(self) -> dict:
        return {"cases": self.total, "by_operation": dict(self.cases), "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "server_errors": sum(v for k, v in self.statuses.items() if k >= 500), "failures": self.failures}


def fuzz(base_url: str, cases: int, *, seed: int | None = 0) -> FuzzReport:
    """Send `cases` positive and `cases` negative requests to every operation of the live schema."""
    import hypothesis
    import requests
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.core.failures import Failure, FailureGroup
    from schemathesis.core.result import Err

    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    # An upload's parts are files whatever they hold: what schemathesis sends as "schema-breaking" parts
    # arrives as files with odd contents, which the service rightly reports one by one; and whether a
    # schema-valid file can be read (its name's extension, its contents) no JSON schema states, so an
    # upload of nothing but unreadable files is rightly refused (422, with the reason for each).
    # Reuse takes a chunk_id or a text of enough letters and digits to hold a reuse: a rule across two
    # query parameters, and a count of letters rather than characters, which no JSON schema states, so
    # schema-valid cases may rightly be refused there (400, saying what to give).
    reuse_rule = [schemathesis.checks.positive_data_acceptance]
    excluded = {"POST /api/documents": [schemathesis.checks.negative_data_rejection,
                                        schemathesis.checks.positive_data_acceptance],
                "GET /api/reuse": reuse_rule, "POST /api/reuse": reuse_rule}
    report = FuzzReport()
    session = requests.Session()
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # an operation the schema describes wrongly: nothing to fuzz it with
            raise result.err()
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            if mode == GenerationMode.POSITIVE:
                strategy = strategy.map(_dates_in_order)
            else:
                strategy = strategy.filter(_sent_as_generated)

            @hypothesis.settings(max_examples=cases, deadline=None, database=None, derandomize=seed is not None,
                                 phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                                 suppress_health_check=list(hypothesis.HealthCheck), verbosity=hypothesis.Verbosity.quiet)
            @hypothesis.given(case=strategy)
            def run(case) -> None:
                label = f"{case.operation.method.upper()} {case.operation.path}"
                response = case.call(base_url=base_url, session=session, timeout=120)
                report.cases[label] += 1
                report.statuses[response.status_code] += 1
                try:
                    case.validate_response(response, excluded_checks=excluded.get(label, []))
                except (FailureGroup, Failure) as failure:  # one error naming every failed check
                    checks = sorted({type(f).__name__ for f in getattr(failure, "exceptions", [failure])})
                    key = f"{label}: {', '.join(checks)}"
                    examples = report.failures.setdefault(key, [])
                    if len(examples) < 3:
                        examples.append(f"{case.method} {case.formatted_path} query={case.query} body={repr(case.body)[:200]} -> "
                                        f"{response.status_code} {response.text[:300]}")

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                pass  # negative mode on an operation without parameters: nothing to break
    return report


def _dates_in_order(case):
    """date_from after date_to is refused (400), a rule between two fields that a JSON schema cannot state:
    schema-valid cases get their dates in order."""
    for values in (case.query, case.body):
        if isinstance(values, dict) and isinstance(values.get("date_from"), str) and isinstance(values.get("date_to"), str):
            if values["date_from"] and values["date_to"] and values["date_from"] > values["date_to"]:
                values["date_from"], values["date_to"] = values["date_to"], values["date_from"]
    return case


def _sent_as_generated(case) -> bool:
    """False for a schema-breaking case whose breaking value a query string cannot carry: an empty
    object or list there is sent as no parameter at all, which is a valid request."""
    return not any(value in ({}, [], None) for value in (case.query or {}).values())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve_sample(directory: Path) -> tuple[subprocess.Popen, str]:
    """Ingest two sample speeches into `directory` and serve them on a free loopback port."""
    speeches = sorted((ROOT / "qa" / "sample_speeches").glob("*.txt"))[:2]
    env = {**os.environ, "SPEECHQA_DATA": str(directory)}
    env.pop("SPEECHQA_TOKEN", None)
    subprocess.run([sys.executable, "-m", "qa.cli", "ingest", *map(str, speeches)], env=env, cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    port = _free_port()
    log = open(directory.parent / "server.log", "wb")  # noqa: SIM115 - open while the server runs
    process = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited: {(directory.parent / 'server.log').read_text(errors='replace')}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the server did not answer in 180 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a running server (default: start one over two sample speeches)")
    parser.add_argument("--cases", type=int, default=int(os.environ.get("SPEECHQA_FUZZ_CASES") or 100),
                        help="requests per operation and kind, positive and negative (default $SPEECHQA_FUZZ_CASES or 100)")
    parser.add_argument("--seed", type=int, default=None, help="derandomise: the same cases every run")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="speechqa-fuzz-") as tmp:
        process = None
        url = args.url
        if url is None:
            process, url = _serve_sample(Path(tmp) / "collection")
        try:
            report = fuzz(url.rstrip("/"), args.cases, seed=args.seed)
        finally:
            if process is not None:
                process.terminate()
                process.wait(10)
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({**report.as_dict(), "seconds": round(seconds, 1)}, ensure_ascii=False))
    else:
        for label, count in report.cases.items():
            print(f"{count:6d}  {label}")
        print(f"{report.total} requests in {seconds:.0f} s; statuses {dict(sorted(report.statuses.items()))}; "
              f"{len(report.failures)} kinds of failure")
        for key, examples in report.failures.items():
            print(f"FAILED {key}")
            for example in examples:
                print(f"    {example}")
    sys.exit(1 if report.failures else 0)


if __name__ == "__main__":
    main()
