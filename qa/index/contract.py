"""The backend contract: everything search, ingest and the front ends may ask of a collection.

Two backends honour it: the embedded `Collection` (qa.index.collection: SQLite plus FAISS and BM25
files) and `MilvusCollection` (qa.index.milvus_backend: one Milvus collection holds it all). Search,
ingest and the front ends are typed against these protocols, never against either class (only
`open_collection` and the reindex use case name one), and mypy checks that both satisfy them (the
typed assignments at the end of each backend's module). Where the backends differ, they say so in
`capabilities`; callers branch on that, never on a backend's type.

The contract comes in parts, so a caller can ask for no more than it reads:

- `SnapshotReads`: `snapshot()`, the `CollectionView` one request searches (indexes and records as
  of one version);
- `DocumentReads`: documents, passages, speakers and what ingest derived, read outside a request's view
  (`PhraseReads`, the part a phrase timeline reads);
- `DocumentWrites`: whole documents added and removed, sources, title vectors, the embedding cache;
- `ReuseReads`: `reuse_snapshot()`, the `ReuseView` one reuse request reads (the text reuse index and
  the records it names), where the backend keeps one (`capabilities.finds_reuse`);
- `Backend`: the four, with the model, the chunking, the capabilities and the collection's lifecycle.

`Reindexable` adds what `speechqa reindex` rewrites in place; only the embedded backend keeps
passages and vectors apart enough to offer it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, overload

import numpy as np

from qa.index.indexes import LexicalReader, VectorReader
from qa.index.near_duplicates import NearDuplicateFinder
from qa.index.reuse_index import ReuseReader
from qa.index.store_log import StoreChange
from qa.index.store_passages import StoredPassage
from qa.text.name_pairs import NamePair
from qa.types import Document, DocumentSummary, FacetFields, Metadata, Passage, PassageFilter


@dataclass(frozen=True)
class ChunkingSettings:
    """How a collection cuts documents into passages (recorded in its manifest)."""

    min_chars: int = 150
    target_chars: int = 400
    max_chars: int = 600
    overlap_sentences: int = 1


@dataclass(frozen=True)
class Capabilities:
    """What a backend does beyond the common ground; ingest and search adapt to these."""

    # Passages are embedded a sentence at a time and scored by their best sentence (a backend without
    # it holds one vector a passage, the whole passage's).
    scores_sentences: bool
    # Document titles have vectors, which an English question's second stage reads (qa.search.rerank).
    scores_titles: bool
    # LexicalReader.knows looks in memory, so asking it about the many spellings a pinyin name may
    # have (qa.search.crosslingual.pinyin_names) is cheap; a server round trip for each is not.
    knows_in_memory: bool
    # A text reuse index (qa.index.reuse_index) is kept in step with the documents: reuse_snapshot() works.
    finds_reuse: bool = False


class CollectionView(Protocol):
    """Everything one request reads, as of one version (`with collection.snapshot() as view:`).

    The indexes and the record reads agree: a document removed after the view was taken is still
    readable through it, and one added after is in none of its parts (a backend that cannot promise
    this, Milvus, drops removed passages from the request's hits instead of failing it).
    """

    # Read-only, so that a view holding narrower readers (a snapshot's own classes) still fits.
    @property
    def version(self) -> int: ...

    @property
    def vectors(self) -> VectorReader: ...

    @property
    def lexical(self) -> LexicalReader: ...

    def passages(self, pids: Sequence[int]) -> dict[int, Passage]:
        """The passages of these pids that exist at this version."""
        ...

    def documents(self, doc_ids: Sequence[str]) -> Mapping[str, DocumentSummary]:
        """Summaries (metadata and sources, no text) of these documents that exist at this version."""
        ...

    def facet_fields(self, pids: Sequence[int]) -> list[FacetFields]:
        """(date, speaker, first source) of the document of each of these (distinct) passages that exists at
        this version, one a passage: what a search's facets count, without reading passages or summaries."""
        ...

    def dense_scores(self, query: np.ndarray, pids: np.ndarray) -> np.ndarray:
        """float32 cosine of each of `pids` with the query, in their order: the candidates' dense evidence
        (a backend may score a passage by its best sentence rather than by its one vector)."""
        ...

    def sentence_cosines(self, queries: np.ndarray, pids: np.ndarray) -> np.ndarray:
        """float32 (pids, queries): dense_scores for several queries at once (a question and its clauses),
        the passages read once."""
        ...

    def title_scores(self, query: np.ndarray, titles: Sequence[str]) -> dict[str, float]:
        """Cosine of the query with each of these document titles the backend holds a vector for (it may
        hold none: the second stage then goes without)."""
        ...


class SnapshotReads(Protocol):
    def snapshot(self) -> contextlib.AbstractContextManager[CollectionView]:
        """The view one request reads through, released when the block ends."""
        ...


class ReuseView(Protocol):
    """What one reuse request reads (qa.search.reuse), as of one version: the text reuse index, the
    filter's passages and the documents' summaries; their texts and passages are read as they are now."""

    @property
    def reuse(self) -> ReuseReader: ...

    def filtered_pids(self, where: PassageFilter) -> np.ndarray:
        """Sorted int64 pids of the passages `where` allows."""
        ...

    def documents(self, doc_ids: Sequence[str]) -> Mapping[str, DocumentSummary]: ...

    def documents_with_text(self, doc_ids: Sequence[str]) -> Mapping[str, Document]: ...

    def passage_of_chunk(self, chunk_id: str) -> Passage | None: ...

    def passages_of(self, doc_id: str) -> Sequence[Passage]: ...


class ReuseReads(Protocol):
    def reuse_snapshot(self) -> contextlib.AbstractContextManager[ReuseView]:
        """The view one reuse request reads through; NotSupportedError where `capabilities.finds_reuse` is false."""
        ...

    def prepare_reuse(self) -> None:
        """Start opening the reuse index in the background where opening it takes long (a server calls this as it
        starts); a reuse request then waits only for what is left."""
        ...


class PhraseReads(Protocol):
    """What a phrase timeline reads (qa.search.phrase): the documents that may hold a phrase, their passages."""

    def phrase_candidates(self, folded_phrase: str, where: PassageFilter) -> dict[str, Document]:
        """Documents (with text) that `where` allows and that may hold the folded phrase
        (qa.index.phrase_index.fold_for_phrase): a superset, which the caller scans exactly."""
        ...

    def passages_of(self, doc_id: str) -> list[Passage]:
        """A document's passages in order; empty when there is no such document."""
        ...


class DocumentReads(PhraseReads, Protocol):
    """Records read outside a request's view: each call sees the latest committed version."""

    def get_document(self, doc_id: str) -> Document | None:
        """One document with its text; None when there is no such document."""
        ...

    @overload
    def get_documents(self, doc_ids: Iterable[str], with_text: Literal[True]) -> Mapping[str, Document]: ...

    @overload
    def get_documents(self, doc_ids: Iterable[str], with_text: Literal[False] = False) -> Mapping[str, DocumentSummary]: ...

    def get_documents(self, doc_ids: Iterable[str], with_text: bool = False) -> Mapping[str, DocumentSummary]:
        """These documents by id (unknown ids left out): summaries, or with `with_text` whole documents."""
        ...

    def passage(self, chunk_id: str) -> Passage | None:
        """The passage of this chunk id; None when there is none."""
        ...

    def list_documents(self, offset: int = 0, limit: int = 50) -> list[tuple[DocumentSummary, int]]:
        """(document, its passage count), newest first (undated last), then by title and id."""
        ...

    def count_documents(self) -> int: ...

    def count_passages(self) -> int: ...

    def speakers(self) -> frozenset[str]:
        """Every speaker some document names (what a query naming a person is matched against)."""
        ...

    def name_pair_counts(self) -> dict[NamePair, int]:
        """How often the stored documents state each name pair (qa.text.name_pairs), all together: what an
        English question is read by (qa.search.name_reading)."""
        ...

    def find_by_hash(self, content_hash: str) -> str | None:
        """The id of the document of this cleaned-text hash, if one is stored (exact duplicates)."""
        ...

    def titles_without_vectors(self, titles: Iterable[str] | None = None) -> list[str]:
        """Those of `titles` (default: every document's) the collection's model has no vector for, each once."""
        ...

    def derived_version(self) -> int | None:
        """The qa.ingest.pipeline.DERIVED_VERSION that derived the stored metadata and BM25 words (0: one
        older than any recorded); None where the backend records none (then there is nothing to advise)."""
        ...


class DocumentWrites(Protocol):
    """Changes: each is whole documents, visible to every snapshot taken after it returns."""

    def add_documents(self, items: Sequence[tuple[Document, Sequence[StoredPassage], bytes | None]],
                      vectors: dict[str, np.ndarray], fresh: Sequence[str] | None = None,
                      sentence_vectors: dict[str, np.ndarray] | None = None,
                      name_pairs: Mapping[str, Sequence[NamePair]] | None = None) -> StoreChange:
        """Write whole documents (each with its passages and MinHash shingles) and index their passages.

        `vectors` holds the vector of every passage by embed hash; `fresh` names those the backend does
        not hold yet (all of them when None); `sentence_vectors` the sentence vectors of fresh ones, for
        a backend that scores sentences; `name_pairs` the pairs each document states, by doc id, which
        go when the document goes. Returns the version the write made and the pids it added.
        """
        ...

    def remove_document(self, doc_id: str) -> bool:
        """Remove a document with its passages; False when there is none."""
        ...

    def add_source(self, doc_id: str, source: str) -> bool:
        """Record one more source of a stored document; False when it was already known."""
        ...

    def known_vectors(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Vectors the backend already holds for these embed hashes (it may keep none: all are embedded)."""
        ...

    def put_title_vectors(self, vectors: Mapping[str, np.ndarray]) -> None:
        """Vectors of document titles, by title."""
        ...

    def set_derived_version(self, version: int) -> None:
        """Record which DERIVED_VERSION derived the stored documents (ignored where none is recorded)."""
        ...

    def near_duplicates(self) -> NearDuplicateFinder:
        """The MinHash signatures new documents are compared with, kept in step with the writes."""
        ...


class Backend(SnapshotReads, DocumentReads, DocumentWrites, ReuseReads, Protocol):
    """A collection, whichever backend holds it: what `qa.index.backends.open_collection` returns."""

    @property
    def model(self) -> str:
        """The embedding model the collection's vectors are of."""
        ...

    @property
    def chunking(self) -> ChunkingSettings: ...

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def location(self) -> str:
        """Where the collection is, as messages name it: a directory, or the Milvus index."""
        ...

    def ensure_indexes(self) -> None:
        """Load what searches read when it is not loaded yet (so the first request does not wait for it)."""
        ...

    def prepare_searches(self) -> None:
        """Start, in the background, what makes later searches faster but is worth it only to a long-running
        process (a server, an evaluation, as it starts); searches meanwhile go on without it."""
        ...

    def stats(self) -> dict:
        """What /healthz reports of the index: at least "index" (its kind) and "recall_at_10" (or None)."""
        ...

    def close(self) -> None:
        """Finish background work and write what is pending; the collection is not used afterwards."""
        ...


class Reindexable(Backend, Protocol):
    """A backend whose passages' texts, BM25 words and vectors can be rewritten in place (`speechqa reindex`)."""

    @property
    def manifest(self) -> dict:
        """The collection's own record: its model, index kind and figures."""
        ...

    def all_document_ids(self) -> list[str]: ...

    def passage_texts_of(self, doc_id: str) -> list[tuple[int, str]]:
        """(pid, text) of a document's passages, in order."""
        ...

    def refresh_derived(self, updates: Sequence[tuple[str, Metadata, dict[int, str]]],
                        name_pairs: Mapping[str, Sequence[NamePair]] | None = None) -> int:
        """Rewrite documents' metadata and their passages' BM25 words, (doc_id, metadata, {pid: space-joined
        tokens}) per document, and the name pairs each states (by doc id; None keeps them), in one change;
        returns the new version."""
        ...

    def passages_missing_vectors(self) -> list[tuple[str, str]]:
        """(embed_hash, text) of passages the model has no vector for yet (after a model change)."""
        ...

    def passages_missing_sentence_vectors(self) -> list[tuple[str, str]]:
        """(embed_hash, text) of passages with a vector but no sentence vectors (stored before them)."""
        ...

    def put_vectors(self, vectors: dict[str, np.ndarray]) -> None:
        """Passage vectors by embed hash; the indexes pick them up at the next rebuild."""
        ...

    def put_sentence_vectors(self, vectors: dict[str, np.ndarray]) -> None: ...

    def rebuild_indexes(self) -> None:
        """Rebuild the derived indexes from the records (after vectors or BM25 words were rewritten)."""
        ...
