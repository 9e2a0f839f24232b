"""Progress of long work (an ingest, a reindex) as a person watching it wants it: a bar on a terminal,
and otherwise (a pipe, a log file, CI) a line every few seconds with done/total, the rate and the time left.

It counts one unit, named as the user knows it (documents, passages); what it counts is up to the caller.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

# Often enough that a log shows the work moving, seldom enough that a long ingest's log stays short.
LINE_EVERY_S = 5.0


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """`advance(n)` as work is done; a bar when `stream` is a terminal, else a line every `every_s` seconds.

    Args:
        label: what is being done ("ingest").
        unit: what is counted, plural ("documents").
        total: how many there will be, when known (a line then says how long is left).
    """

    def __init__(self, label: str, unit: str, total: int | None = None, *, stream: IO[str] | None = None,
                 every_s: float = LINE_EVERY_S, clock: Callable[[], float] = time.monotonic,
                 bar: bool | None = None) -> None:
        self.label, self.unit, self.total = label, unit, total
        self.done = 0
        self._stream = stream or sys.stderr
        self._every_s = every_s
        self._clock = clock
        self._started = clock()
        self._last_line = self._started
        self._bar: Any = None
        if self._stream.isatty() if bar is None else bar:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=label, unit=f" {unit}", file=self._stream,
                             dynamic_ncols=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = self._clock()
        if now - self._last_line >= self._every_s:
            self._last_line = now
            self._write(self.line(now))

    def line(self, now: float | None = None) -> str:
        """The progress as one line: `ingest: 120/791 documents · 4.2 documents/s · 2:40 left`."""
        elapsed = (self._clock() if now is None else now) - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        count = f"{self.done:,}/{self.total:,}" if self.total is not None else f"{self.done:,}"
        parts = [f"{self.label}: {count} {self.unit}", f"{rate:,.1f} {self.unit}/s"]
        if self.total is not None and rate > 0:
            parts.append(f"{_duration((self.total - self.done) / rate)} left")
        elif self.total is not None:
            parts.append("time left not known yet")
        return " · ".join(parts)

    def close(self) -> None:
        """End the bar, or write the last count and how long the work took."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.done and self._clock() - self._started >= self._every_s:
            count = f"{self.done:,}/{self.total:,}" if self.total is not None else f"{self.done:,}"
            self._write(f"{self.label}: {count} {self.unit} in {_duration(self._clock() - self._started)}")

    def _write(self, text: str) -> None:
        self._stream.write(text + "\n")
        self._stream.flush()
