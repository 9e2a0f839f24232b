"""What `speechqa reuse` and `speechqa reuse-top` print: a reuse report and the top list as lines of text.

Apart from qa/cli.py so that the commands there stay a few lines each; `cite` is the CLI's one citation line,
passed in so both commands cite a passage as every other command does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from qa.search.reuse import ReuseReport
from qa.search.reuse_top import TopReuse

BAR_WIDTH = 30  # characters of the busiest period's bar


def reuse_lines(report: ReuseReport, *, hide_series: bool, cite: Callable[[Any], str]) -> Iterator[str]:
    """The report: who holds the wording, the earliest source, the series, a bar per period, then each reuse."""
    source = report.source_passage
    where = f"{source.chunk_id}" if source else "the text"
    yield (f"{where}: {report.total_documents} documents reuse its wording (runs of {report.min_run}+ letters "
           "and digits, either script, punctuation aside)")
    if report.earliest is not None:
        own = " (this passage's own document)" if report.source_is_earliest else ""
        yield (f"earliest known source: {report.earliest.metadata.title or report.earliest.doc_id} "
               f"{report.earliest.metadata.date}{own}")
    if report.series is not None:
        hidden = ", hidden" if hide_series else " (--hide-series leaves them out)"
        yield f"its own series 「{report.series.title}」: {report.series.documents} documents{hidden}"
    top = max((p.documents for p in report.periods), default=0)
    for point in report.periods:
        bar = "█" * round(BAR_WIDTH * point.documents / top) if top else ""
        yield f"  {point.period:>7}  {point.documents:>5}  {bar}"
    yield ""
    for rank, found in enumerate(report.reuses, start=report.offset + 1):
        marks = "".join((" earliest" if found.earliest else "", " same series" if found.same_series else ""))
        yield f"[{rank}] {cite(found)} · {round(100 * found.share)}% of the passage, longest run {found.longest}{marks}"
        start, end = found.highlights[0] if found.highlights else (0, 0)
        text = found.passage.text.replace("\n", " ")
        yield f"    …{text[max(0, start - 20):start]}【{text[start:end]}】{text[end:end + 20]}…"
    shown = report.offset + len(report.reuses)
    if shown < report.total_documents:
        yield f"({report.total_documents - shown} more: --offset {shown})"


def top_lines(top: TopReuse, *, cite: Callable[[Any], str]) -> Iterator[str]:
    """Each of the most reused passages: how many documents, their dates, the shared wording, the command to see it."""
    for rank, item in enumerate(top.passages, start=1):
        start, end = item.shared
        yield f"[{rank}] {item.documents} documents, {item.first_date} – {item.last_date}: {cite(item)}"
        yield f"    【{item.passage.text[start:end].replace(chr(10), ' ')}】"
        yield f"    speechqa reuse {item.passage.chunk_id}"
