"""The JSON shapes of docs/api.md, shared by the web API, the CLI's --json output and the MCP tools."""

from __future__ import annotations

from urllib.parse import urlencode

from qa.search.phrase import PhraseTimeline, period_bounds
from qa.search.service import SearchResult
from qa.types import Document, DocumentSummary, Hit, Passage


def document_summary(document: DocumentSummary, n_chunks: int | None = None) -> dict:
    meta = document.metadata
    out: dict = {
        "doc_id": document.doc_id,
        "title": meta.title,
        "date": meta.date,
        "date_kind": meta.date_kind,
        "speaker": meta.speaker,
        "place": meta.place,
        "source": document.source,
        "sources": list(document.sources),
        "script": document.script,
    }
    if n_chunks is not None:
        out["n_chunks"] = n_chunks
    return out


def document_detail(document: Document, passages: list[Passage]) -> dict:
    out = document_summary(document, len(passages))
    out["content_hash"] = document.content_hash
    out["text"] = document.text
    out["chunks"] = [
        {"chunk_id": p.chunk_id, "char_start": p.char_start, "char_end": p.char_end, "section": p.section}
        for p in passages
    ]
    return out


def hit_to_dict(hit: Hit) -> dict:
    passage, meta = hit.passage, hit.document.metadata
    return {
        "rank": hit.rank,
        "score": hit.score,
        "chunk_id": passage.chunk_id,
        "doc_id": passage.doc_id,
        "text": passage.text,
        "highlights": [list(span) for span in hit.highlights],
        "duplicates": hit.duplicates,
        "citation": {
            "title": meta.title,
            "date": meta.date,
            "speaker": meta.speaker,
            "place": meta.place,
            "source": hit.document.source,
            "section": passage.section,
            "char_start": passage.char_start,
            "char_end": passage.char_end,
            "url": f"/doc/{passage.doc_id}#{passage.chunk_id}",
        },
    }


def result_to_dict(result: SearchResult) -> dict:
    out: dict = {
        "query": result.query,
        "mode": result.mode,
        "took_ms": result.took_ms,
        "results": [hit_to_dict(hit) for hit in result.hits],
    }
    if result.source_spans:
        for item in out["results"]:
            item["query_highlights"] = [list(span) for span in result.source_spans.get(item["chunk_id"], [])]
    if result.source is not None:
        out["source"] = {"chunk_id": result.source.chunk_id, "doc_id": result.source.doc_id, "text": result.source.text}
    if result.facets is not None:
        out["facets"] = result.facets.as_dict()
    if result.preferences:
        # What the question names and whether it favoured documents that fit; prefer=false turns it off.
        out["preferences"] = {**result.preferences, "applied": result.preferences_applied}
    # Each of them that did favour documents; ignore_filter=kind:value switches one off.
    out["applied_filters"] = [{"kind": kind, "value": value, "source": "query"} for kind, value in result.applied_filters]
    return out


def occurrence_to_dict(hit: Hit) -> dict:
    """An occurrence in the API's shape: a search hit's fields and citation, the phrase as its highlight."""
    out = hit_to_dict(hit)
    del out["score"], out["duplicates"]
    assert hit.match is not None, "an occurrence is a hit with its match"
    out["match"] = list(hit.match)
    return out


def timeline_to_dict(timeline: PhraseTimeline) -> dict:
    """The JSON of GET /api/phrase (docs/api.md, "Phrase timeline")."""
    out: dict = {
        "phrase": timeline.phrase,
        "took_ms": timeline.took_ms,
        "granularity": timeline.granularity,
        "total_occurrences": timeline.total_occurrences,
        "total_documents": timeline.total_documents,
        "undated_occurrences": timeline.undated_occurrences,
        "first": occurrence_to_dict(timeline.first) if timeline.first else None,
        "series": [
            {"period": p.period, "occurrences": p.occurrences, "documents": p.documents,
             "date_from": period_bounds(p.period)[0], "date_to": period_bounds(p.period)[1]}
            for p in timeline.series
        ],
        "by_speaker": [{"value": u.value, "documents": u.documents, "occurrences": u.occurrences} for u in timeline.by_speaker],
        "by_source": [{"value": u.value, "documents": u.documents, "occurrences": u.occurrences} for u in timeline.by_source],
        "occurrences": [occurrence_to_dict(hit) for hit in timeline.occurrences],
        "offset": timeline.offset,
        "limit": timeline.limit,
    }
    if not timeline.total_occurrences:
        out["search_url"] = "/search?" + urlencode({"q": timeline.phrase})
    return out
