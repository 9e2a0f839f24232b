"""What an MCP tool's text says: a short reading of its result for the assistant, one line an item.

The structured content keeps the whole result (the API's shape, facets and offsets included); the text
is what an assistant reads first and quotes from, so it names each passage by its citation and link and
leaves out what only a program needs. Each summary takes the tool's payload (the API's JSON as Python).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["SUMMARIES", "summary"]

SNIPPET = 160  # characters of a passage's text quoted in its line


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET else flat[: SNIPPET - 1] + "…"


def _cited(citation: dict[str, Any] | None) -> str:
    citation = citation or {}
    named = [citation.get(key) for key in ("title", "date", "speaker", "section")]
    return " · ".join(str(value) for value in named if value) or "(untitled)"


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _passage_lines(items: list[dict[str, Any]]) -> Iterator[str]:
    for item in items:
        yield f"{item.get('rank', '-')}. {_cited(item.get('citation'))} — {item.get('link', '')}".rstrip(" —")
        yield f"   {_snippet(item.get('text', ''))}"


def search_summary(payload: dict[str, Any]) -> Iterator[str]:
    results = payload.get("results", [])
    source = payload.get("source")
    about = f"passage {source['chunk_id']}" if source and source.get("chunk_id") else f"“{payload.get('query', '')}”"
    yield f"{_counted(len(results), 'passage')} for {about}" + (":" if results else " (try other words, or mode=lexical)")
    applied = payload.get("applied_filters") or []
    if applied:
        named = ", ".join(f"{f.get('kind')}:{f.get('value')}" for f in applied)
        yield f"favouring documents that fit {named} (ignore_filters to switch one off, prefer=false for all)"
    yield from _passage_lines(results)


def phrase_summary(payload: dict[str, Any]) -> Iterator[str]:
    total, documents = payload.get("total_occurrences", 0), payload.get("total_documents", 0)
    yield f"“{payload.get('phrase', '')}”: {_counted(total, 'occurrence')} in {_counted(documents, 'document')}"
    if not total:
        yield "it occurs nowhere as written: the search tool finds passages that say it otherwise"
        return
    first = payload.get("first")
    if first:
        yield f"first used: {_cited(first.get('citation'))} — {first.get('link', '')}".rstrip(" —")
    series = payload.get("series") or []
    if series:
        yield f"per {payload.get('granularity', 'period')}: " + ", ".join(
            f"{period['period']} {period['occurrences']}" for period in series if period.get("occurrences"))
    speakers = payload.get("by_speaker") or []
    if speakers:
        yield "most by: " + ", ".join(f"{usage.get('value')} {usage.get('occurrences')}" for usage in speakers[:3])
    occurrences = payload.get("occurrences") or []
    shown = payload.get("offset", 0) + len(occurrences)
    yield f"occurrences {payload.get('offset', 0) + 1}–{shown} of {total}:" if occurrences else "no occurrences on this page"
    yield from _passage_lines(occurrences)


def reuse_summary(payload: dict[str, Any]) -> Iterator[str]:
    reuses = payload.get("reuses") or []
    source = payload.get("source") or {}
    about = source.get("chunk_id") or "the text"
    yield (f"{_counted(payload.get('total_documents', 0), 'document')} reuse the wording of {about} "
           f"(shared runs of {payload.get('min_run', '')}+ letters)")
    earliest = payload.get("earliest")
    if earliest:
        own = " (the passage's own document)" if earliest.get("is_source") else ""
        yield f"earliest: {earliest.get('title') or earliest.get('doc_id')} {earliest.get('date') or ''}{own}".rstrip()
    for item in reuses:
        share = f"{round(100 * item.get('share', 0))}% shared"
        yield f"{item.get('rank', '-')}. {_cited(item.get('citation'))} — {share} — {item.get('link', '')}".rstrip(" —")
        yield f"   {_snippet(item.get('text', ''))}"


def documents_summary(payload: dict[str, Any]) -> Iterator[str]:
    documents = payload.get("documents") or []
    offset, total = payload.get("offset", 0), payload.get("total", 0)
    first = f"{offset + 1}–{offset + len(documents)}" if documents else "none"
    more = f"; offset={offset + len(documents)} for the next" if offset + len(documents) < total else ""
    yield f"documents {first} of {total}{more}"
    for document in documents:
        named = " · ".join(str(v) for v in (document.get("date"), document.get("speaker")) if v)
        yield (f"{document.get('doc_id')}  {document.get('title') or '(untitled)'}"
               f"{'  ' + named if named else ''}  {_counted(document.get('n_chunks', 0), 'passage')}  "
               f"{document.get('link', '')}").rstrip()


def document_summary(payload: dict[str, Any]) -> Iterator[str]:
    named = " · ".join(str(v) for v in (payload.get("title"), payload.get("date"), payload.get("speaker"),
                                         payload.get("place")) if v)
    yield f"{payload.get('doc_id')}: {named or '(untitled)'} — {payload.get('link', '')}".rstrip(" —")
    yield f"{_counted(payload.get('n_chunks', 0), 'passage')}; sources: {', '.join(payload.get('sources') or [])}"
    # The whole text is what an assistant asked for here; the passages' offsets stay in the structured content.
    yield ""
    yield payload.get("text", "")


def passage_summary(payload: dict[str, Any]) -> Iterator[str]:
    yield f"{payload.get('chunk_id')}: {_cited(payload.get('citation'))} — {payload.get('link', '')}".rstrip(" —")
    yield payload.get("text", "")


def upload_summary(payload: dict[str, Any]) -> Iterator[str]:
    for key in ("added", "updated", "duplicates"):
        if payload.get(key):
            yield f"{key}: {', '.join(payload[key])}"
    for rejected in payload.get("rejected") or []:
        yield f"rejected {rejected.get('source')}: {rejected.get('reason')}"


def removed_summary(payload: dict[str, Any]) -> Iterator[str]:
    yield f"removed {payload.get('deleted')}"


SUMMARIES: dict[str, Callable[[dict[str, Any]], Iterator[str]]] = {
    "search": search_summary,
    "similar": search_summary,
    "phrase_timeline": phrase_summary,
    "reuse": reuse_summary,
    "list_documents": documents_summary,
    "get_document": document_summary,
    "get_passage": passage_summary,
    "add_document": upload_summary,
    "remove_document": removed_summary,
}


def summary(tool: str, payload: dict[str, Any]) -> str:
    """The text of `tool`'s result `payload`: its summary lines (a tool without one: the names of its fields)."""
    lines = SUMMARIES.get(tool)
    if lines is None:
        return f"{tool}: " + ", ".join(sorted(payload))
    return "\n".join(lines(payload)).strip() or f"{tool}: done"
