"""Latency summaries and memory readings that the benchmark parts share."""

from __future__ import annotations

import resource
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def latency_summary(milliseconds: list[float]) -> dict:
    return {"n": len(milliseconds), "p50_ms": round(percentile(milliseconds, 0.5), 1),
            "p95_ms": round(percentile(milliseconds, 0.95), 1), "p99_ms": round(percentile(milliseconds, 0.99), 1)}


def rss_mb(pid: int | str = "self", field: str = "VmRSS") -> float:
    """A memory figure of a process from /proc: VmRSS (now) or VmHWM (its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux
