"""Facets of a result list: how many of the matching passages fall in each year, speaker and source.

Counted over the candidates retrieval considers before it cuts the list to k (the first FACET_DEPTH
of the dense side and of the lexical side, under the same filters), so a facet says where more of
the answers lie, and clicking it narrows the search to them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from qa.types import Document

if TYPE_CHECKING:
    from qa.search import SearchRequest, SearchService

FACET_DEPTH = 100
FACET_VALUES = 20  # values listed per facet, most frequent first
KINDS = ("year", "speaker", "source")


def source_group(source: str | None) -> str | None:
    """What a source facet counts: the site of a URL, the file of anything else (a record's line number dropped).

    A collection of web pages has one source per document; its site is what one filters by.
    """
    if not source:
        return None
    if "://" in source:
        return urlsplit(source).netloc or source
    return source.replace("\\", "/").rsplit("/", 1)[-1].split("#", 1)[0] or None


@dataclass(frozen=True)
class FacetValue:
    value: str
    count: int


@dataclass(frozen=True)
class Facets:
    year: tuple[FacetValue, ...] = ()
    speaker: tuple[FacetValue, ...] = ()
    source: tuple[FacetValue, ...] = ()

    def as_dict(self) -> dict:
        return {kind: [{"value": v.value, "count": v.count} for v in getattr(self, kind)] for kind in KINDS}


def facet_values(document: Document) -> dict[str, str | None]:
    meta = document.metadata
    return {"year": meta.date[:4] if meta.date else None, "speaker": meta.speaker, "source": source_group(document.source)}


def count_facets(documents: Iterable[Document]) -> Facets:
    """One count per passage, by its document's year, speaker and source; unknown values are not counted."""
    counters: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    for document in documents:
        for kind, value in facet_values(document).items():
            if value:
                counters[kind][value] += 1
    return Facets(**{
        kind: tuple(FacetValue(value, count) for value, count in
                    sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:FACET_VALUES])
        for kind, counter in counters.items()
    })


def search_facets(service: SearchService, request: SearchRequest) -> Facets:
    """Facets of a validated search: its passages among the first FACET_DEPTH of each side (the fused
    candidate list before the top-k cut), counted by their documents' year, speaker and source."""
    store = service.collection.store
    passages = store.passages_by_pid(_candidates(service, request))
    documents = store.get_documents({p.doc_id for p in passages.values()})
    return count_facets(documents[p.doc_id] for p in passages.values() if p.doc_id in documents)


def _candidates(service: SearchService, request: SearchRequest) -> list[int]:
    """The pids either side of retrieval finds in its first FACET_DEPTH, under the request's filters.

    The query vector comes from the service's cache (the search just embedded it), so this costs
    one more index lookup each side, not a model run.
    """
    from qa.store import PassageFilter

    where = PassageFilter(request.doc_ids, request.date_from, request.date_to, request.speaker, request.source)
    pids: list[int] = []
    with service.collection.snapshot() as view:
        if request.mode in ("hybrid", "dense") and view.vectors.count():
            ids, _ = view.vectors.search(service.embed_query(request.query), FACET_DEPTH, where, request.exclude_doc)
            pids.extend(ids.tolist())
        if request.mode in ("hybrid", "lexical"):
            tokens = service.lexical_query(request.query, view.lexical)
            found, _ = view.lexical.search(tokens, FACET_DEPTH, where, request.exclude_doc)
            pids.extend(found.tolist())
    return list(dict.fromkeys(pids))
