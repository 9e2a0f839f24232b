"""Frozen records handed from one pipeline stage to the next.

files -> RawDocument -> Document -> Passage -> vectors -> index -> Hit
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RawDocument:
    """One document as a reader found it: decoded text plus whatever metadata the container gave."""

    text: str
    source: str  # file name, or URL when the record has one
    title: str | None = None
    date: str | None = None  # ISO yyyy-mm-dd from a record field, if any
    speaker: str | None = None
    place: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Rejection:
    """A file or record that could not be ingested, and why (the message says what to change)."""

    source: str
    reason: str


@dataclass(frozen=True)
class Metadata:
    title: str | None = None
    date: str | None = None  # ISO yyyy-mm-dd
    date_kind: str | None = None  # "speech" (the text states it) or "published"
    speaker: str | None = None
    place: str | None = None


@dataclass(frozen=True)
class Chunk:
    """A passage span inside a cleaned document, before it has ids."""

    text: str
    char_start: int
    char_end: int
    section: str | None = None


@dataclass(frozen=True)
class DocumentSummary:
    """A document without its text: what hits, listings and facets read (the text is the costly part)."""

    doc_id: str
    content_hash: str
    metadata: Metadata
    script: str  # "zh-Hans", "zh-Hant", "mixed" or "other"
    sources: tuple[str, ...] = ()

    @property
    def source(self) -> str | None:
        return self.sources[0] if self.sources else None

    def with_text(self, text: str) -> Document:
        return Document(self.doc_id, text, self.content_hash, self.metadata, self.script, self.sources)

    @property
    def facet_fields(self) -> FacetFields:
        return self.metadata.date, self.metadata.speaker, self.source


# (date, speaker, first source) of a document: all a search's facets read of it (qa.search.facets).
FacetFields = tuple[str | None, str | None, str | None]


@dataclass(frozen=True, init=False)
class Document(DocumentSummary):
    """A document with its cleaned text, in its original script."""

    text: str = field(kw_only=True)  # set by __init__, written out to keep the text second as records are built

    def __init__(self, doc_id: str, text: str, content_hash: str, metadata: Metadata, script: str,
                 sources: tuple[str, ...] = ()) -> None:
        super().__init__(doc_id, content_hash, metadata, script, sources)
        object.__setattr__(self, "text", text)


@dataclass(frozen=True)
class Passage:
    chunk_id: str
    doc_id: str
    ordinal: int
    text: str
    char_start: int
    char_end: int
    section: str | None = None


@dataclass(frozen=True)
class Hit:
    rank: int
    score: float
    passage: Passage
    document: DocumentSummary  # without its text: SearchService.document reads that
    highlights: tuple[tuple[int, int], ...] = ()
    duplicates: int = 0  # near-identical passages collapsed into this one
    match: tuple[int, int] | None = None  # a phrase occurrence (qa.search.phrase): its span in the document's text


@dataclass(frozen=True)
class PassageFilter:
    """Which passages a search or timeline may return: every set field must hold (empty: no restriction)."""

    doc_ids: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    speaker: str | None = None
    source: str | None = None  # a site or file, as qa.citations.source_group names it

    @property
    def active(self) -> bool:
        return bool(self.doc_ids or self.date_from or self.date_to or self.speaker or self.source)
