"""qa.progress: a line every few seconds through a pipe, with done/total, the rate and the time left."""

from __future__ import annotations

import io

from qa.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_through_a_pipe_a_line_every_few_seconds_with_done_total_rate_and_time_left():
    out, clock = io.StringIO(), Clock()
    with Progress("ingest", "documents", 80, stream=out, every_s=5, clock=clock) as progress:
        for _ in range(80):
            clock.now += 0.25  # four documents a second
            progress.advance()
    assert out.getvalue().splitlines() == [
        "ingest: 20/80 documents · 4.0 documents/s · 0:15 left",
        "ingest: 40/80 documents · 4.0 documents/s · 0:10 left",
        "ingest: 60/80 documents · 4.0 documents/s · 0:05 left",
        "ingest: 80/80 documents · 4.0 documents/s · 0:00 left",
        "ingest: 80/80 documents in 0:20",
    ]


def test_short_work_through_a_pipe_prints_nothing():
    out, clock = io.StringIO(), Clock()
    with Progress("ingest", "documents", 3, stream=out, every_s=5, clock=clock) as progress:
        for _ in range(3):
            clock.now += 0.5
            progress.advance()
    assert out.getvalue() == ""


def test_without_a_total_the_line_counts_and_gives_the_rate():
    out, clock = io.StringIO(), Clock()
    progress = Progress("reindex", "passages", stream=out, every_s=5, clock=clock)
    clock.now += 6
    progress.advance(1200)
    assert out.getvalue() == "reindex: 1,200 passages · 200.0 passages/s\n"


def test_on_a_terminal_a_bar_counts_in_the_unit():
    out, clock = io.StringIO(), Clock()
    with Progress("ingest", "documents", 4, stream=out, clock=clock, bar=True) as progress:
        progress.advance(4)
    shown = out.getvalue()
    assert "4/4" in shown and "documents/s" in shown


def test_scaled_progress_reports_the_same_share_in_whole_units():
    from qa.ingest.pipeline import ScaledProgress

    heard: list[int] = []
    documents = ScaledProgress(heard.append, units=3, whole=10)  # 3 documents, 10 passages to embed
    for parts in (2, 2, 3, 3):
        documents(parts)
    assert heard == [1, 1, 1] and sum(heard) == 3
    documents.finish()
    assert sum(heard) == 3
    nothing_embedded = ScaledProgress(heard.append, units=4, whole=0)
    nothing_embedded.finish()
    assert heard[-1] == 4
