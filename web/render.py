"""The pages' templates and their helpers: marked segments from stored offsets (templates escape them), links."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from qa.access import changes_open
from qa.citations import citation_source
from qa.search.phrase import period_bounds
from qa.search.requests import MODES
from qa.types import Passage

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescape is on for every template


def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    """A page with what every page shows: whether changes are open here, and to whom."""
    settings = request.app.state.settings
    context.setdefault("can_write", changes_open(settings.token, settings.host))
    context.setdefault("needs_token", settings.token is not None)
    context.setdefault("modes", MODES)
    return templates.TemplateResponse(request, name, context, status_code=status)


def segments(text: str, spans: Sequence[Sequence[int]]) -> list[tuple[str, bool]]:
    """[(piece, marked)] covering text, marked where a [start, end) span covers it.

    Spans may overlap, come in any order or reach past the text; empty and reversed spans mark nothing.
    """
    out: list[tuple[str, bool]] = []
    cursor = 0
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans):
        start = max(start, cursor)
        if end <= start:
            continue
        if start > cursor:
            out.append((text[cursor:start], False))
        out.append((text[start:end], True))
        cursor = end
    if cursor < len(text):
        out.append((text[cursor:], False))
    return out


def document_segments(text: str, passages: Sequence[Passage], cited: str | None) -> list[dict]:
    """Pieces of a document split at every passage boundary, each knowing the passages it belongs to.

    Passages overlap by a sentence, so a piece may belong to two; the page anchors each passage
    at its first piece and marks every piece of the cited one. One sweep, so a long speech with
    thousands of passages renders in linear time.
    """
    bounds = sorted({0, len(text), *(p.char_start for p in passages), *(p.char_end for p in passages)})
    by_start = sorted(range(len(passages)), key=lambda i: passages[i].char_start)
    active: list[int] = []  # indexes of the passages that cover the current piece, in the order given
    next_start = 0
    pieces = []
    for start, end in zip(bounds, bounds[1:], strict=False):
        if start >= end:
            continue
        anchors = []
        while next_start < len(by_start) and passages[by_start[next_start]].char_start <= start:
            index = by_start[next_start]
            active.append(index)
            if passages[index].char_start == start:
                anchors.append(index)
            next_start += 1
        # Every passage end is a bound, so a passage still open at `start` covers the whole piece.
        active = sorted(i for i in active if passages[i].char_end > start)
        owners = [passages[i].chunk_id for i in active]
        pieces.append({"text": text[start:end], "chunks": owners,
                       "anchors": [passages[i].chunk_id for i in sorted(anchors)], "cited": cited in owners})
    return pieces


def source_name(source: str | None) -> str:
    """How a page shows a source: a URL as it is, a file by its base name (never the server's folders)."""
    return citation_source(source) if source else ""


def web_link(source: str | None) -> str | None:
    """The source as a link target when it is a web address; anything else (javascript:, files) is not linked."""
    if source and source.lower().startswith(("http://", "https://")):
        return source
    return None


def query_link(path: str, params: dict, **changes: object) -> str:
    """`path` with the page's parameters, some changed (None or "" drops one); lists repeat their key."""
    pairs = []
    for key, value in {**params, **changes}.items():
        for one in value if isinstance(value, list | tuple) else [value]:
            if one not in (None, ""):
                pairs.append((key, one))
    return f"{path}?{urlencode(pairs)}" if pairs else path


# A formulation is short wording, not a question: a phrase timeline of a whole question finds nothing.
_PHRASE_MAX_CHARS = 20
_NOT_IN_A_PHRASE = re.compile(r"[\s?？!！。，,；;：:]|为什么|為什麼|怎么|怎麼|如何|什么|什麼|哪|吗|嗎|呢|多少|是否")


def is_phrase(query: str) -> bool:
    """Whether a search's query reads as a formulation whose phrase timeline is worth offering (工业强县), not
    a question or an English sentence."""
    from qa.search.crosslingual import is_english

    query = query.strip()
    return 2 <= len(query) <= _PHRASE_MAX_CHARS and not is_english(query) and not _NOT_IN_A_PHRASE.search(query)


def register_filters(env) -> None:
    env.filters["segments"] = segments
    env.filters["source_name"] = source_name
    env.filters["web_link"] = web_link
    env.globals["document_segments"] = document_segments
    env.globals["query_link"] = query_link
    env.globals["period_bounds"] = period_bounds
    env.globals["is_phrase"] = is_phrase


register_filters(templates.env)
