"""Facets of a result list: how many of the matching passages fall in each year, speaker and source.

Counted over the candidates retrieval considers before it cuts the list to k (every passage the
dense and the lexical side found, under the same filters), so a facet says where more of the answers
lie, and clicking it narrows the search to them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from qa.citations import source_group
from qa.types import DocumentSummary, FacetFields

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


def count_facets(documents: Iterable[DocumentSummary]) -> Facets:
    """One count per passage, by its document's year, speaker and source; unknown values are not counted."""
    return count_facet_fields(document.facet_fields for document in documents)


def count_facet_fields(fields: Iterable[FacetFields]) -> Facets:
    """count_facets from each passage's document's (date, speaker, first source)."""
    # A column at a time: a search counts a couple of hundred candidates, and Counter counts an iterable in C.
    dates, speakers, sources = list(zip(*fields)) or [(), (), ()]
    counters: dict[str, Counter[str]] = {
        "year": Counter(date[:4] for date in dates if date),
        "speaker": Counter(speaker for speaker in speakers if speaker),
        "source": Counter(group for group in map(source_group, sources) if group),
    }
    return Facets(**{
        kind: tuple(FacetValue(value, count) for value, count in
                    sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:FACET_VALUES])
        for kind, counter in counters.items()
    })

