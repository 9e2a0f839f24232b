"""Facets of a result list: how many of the matching passages fall in each year, speaker and source.

Counted over the candidates retrieval considers before it cuts the list to k (every passage the
dense and the lexical side found, under the same filters), so a facet says where more of the answers
lie, and clicking it narrows the search to them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from qa.citations import source_group
from qa.types import DocumentSummary, Passage

FACET_VALUES = 20  # values listed per facet, most frequent first
KINDS = ("year", "speaker", "source")


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


def facet_values(document: DocumentSummary) -> dict[str, str | None]:
    meta = document.metadata
    return {"year": meta.date[:4] if meta.date else None, "speaker": meta.speaker, "source": source_group(document.source)}


def count_facets(documents: Iterable[DocumentSummary]) -> Facets:
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


def facets_of(passages: Mapping[int, Passage], documents: Mapping[str, DocumentSummary]) -> Facets:
    """Facets of a search's candidates (every passage either side found before the top-k cut, under the
    request's filters), counted by their documents' year, speaker and source."""
    return count_facets(documents[p.doc_id] for p in passages.values() if p.doc_id in documents)
