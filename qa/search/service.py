"""The read side of the facade every front end calls: search, similar passages, phrases, documents."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from embeddings.base import Encoder
from qa.errors import BadInputError, NotFoundError
from qa.index.collection import Collection
from qa.index.indexes import CollectionView, LexicalReader
from qa.index.vector_index import use_single_thread
from qa.search.changes import ChangeService
from qa.search.crosslingual import is_english, translate_query
from qa.search.facets import Facets, facets_of
from qa.search.phrase import PhraseRequest, PhraseTimeline, phrase_timeline
from qa.search.query import QueryAnalysis, analyse, parse_switched_off
from qa.search.query_vectors import QueryVectors
from qa.search.ranking import DEFAULT_RANKING, RankingConfig
from qa.search.rerank import CrossEncoderScorer, word_rarity
from qa.search.retrieval import (
    Query,
    collapse_hits,
    find_candidates,
    fuse_evidence,
    gather_evidence,
    read_passages,
    second_stage,
)
from qa.text.alignment import shared_spans
from qa.text.normalize import drop_surrogates
from qa.text.tokens import lexical_tokens
from qa.types import Document, DocumentSummary, Hit, Passage, PassageFilter

MODES = ("hybrid", "dense", "lexical")
MAX_K = 100
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class SearchRequest:
    query: str
    k: int = 10
    mode: str = "hybrid"
    doc_ids: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    speaker: str | None = None
    exclude_doc: str | None = None
    source: str | None = None  # a site or file (qa.search.facets.source_group)
    prefer: bool = True  # let the dates and speakers the query names favour documents that fit them
    # Of those, the ones the user switched off, as "kind:value" (date:2024, speaker:賴清德).
    ignore_filters: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchResult:
    query: str
    mode: str
    took_ms: float
    hits: list[Hit]
    source: Passage | None = None  # for similar-passage searches started from a stored passage
    source_spans: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # chunk_id -> spans in the source text
    facets: Facets | None = None  # searches only (qa.search.facets)
    # What the query names (dates, speakers) and whether it was allowed to favour documents that fit.
    preferences: dict[str, list[str]] = field(default_factory=dict)
    preferences_applied: bool = False
    # (kind, value) of each named date and speaker that favoured documents: those not switched off, when allowed.
    applied_filters: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Retrieval:
    """One pass of the pipeline: the hits, the facets of the candidates they were cut from, and how the query was read."""

    hits: list[Hit]
    analysis: QueryAnalysis
    facets: Facets | None = None
    applied_filters: tuple[tuple[str, str], ...] = ()


def _iso_date(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise BadInputError(f"{name} must be an ISO date such as 2022-06-10, not {value!r}") from None


class SearchService:
    """The read side of the facade: search, similar passages, phrases, documents, stats.

    Changes go through `changes` (qa.search.changes), over the same collection.
    """

    def __init__(self, collection: Collection, encoder: Encoder | None, *, max_query_chars: int = 2000,
                 batch_size: int = 32, reranker: CrossEncoderScorer | None = None,
                 ranking: RankingConfig = DEFAULT_RANKING, changes: ChangeService | None = None) -> None:
        """`encoder` None: a service for browsing and removing documents, which never needs the model.
        `reranker`: a cross-encoder for the second stage (embeddings.cross_encoder), when one is configured.
        `ranking`: every weight and depth retrieval uses. `changes`: the change service, by default one
        over the same collection and encoder."""
        self.collection = collection
        self.reranker = reranker
        self.ranking = ranking
        self._speakers: tuple[int, frozenset[str]] = (-1, frozenset())
        self.encoder = encoder
        self.max_query_chars = max_query_chars
        self.query_vectors = QueryVectors(encoder, window_chars=ranking.query_window_chars, batch_size=batch_size) \
            if encoder is not None else None
        self.changes = changes if changes is not None else ChangeService(collection, encoder, batch_size=batch_size)
        if collection.vectors is None and encoder is not None:
            collection.load_indexes()

    def warm_up(self) -> None:
        """Load what the first query would otherwise wait for: the segmenter, the dictionary, the model's first run."""
        from qa.search.crosslingual import load_dictionary

        lexical_tokens("预热")
        load_dictionary()
        word_rarity("预热")
        self._model().embed_query("预热")

    def _model(self) -> Encoder:
        """The encoder, for what embeds text: a service built without one only browses and removes documents."""
        assert self.encoder is not None, "embedding text needs the model: build the service with an encoder"
        return self.encoder

    # -- validation -------------------------------------------------------
    def validate(self, request: SearchRequest) -> SearchRequest:
        for name, values in (("doc", request.doc_ids), ("speaker", (request.speaker,)), ("exclude_doc", (request.exclude_doc,))):
            for value in values:
                if value is not None and drop_surrogates(value) != value:
                    raise BadInputError(f"{name} holds an unpaired surrogate (a lone \\ud800-\\udfff escape), which is "
                                        "not text: send document ids and names as the API gives them")
        # Control characters (NUL and the like) carry nothing to search for; tabs and line breaks stay.
        query = _CONTROL_CHARS.sub(" ", drop_surrogates(request.query or "")).strip()
        if not query:
            raise BadInputError("the query is empty: type a question or paste a passage (q=...)")
        if len(query) > self.max_query_chars:
            raise BadInputError(f"the query is {len(query)} characters long; shorten it to at most {self.max_query_chars}")
        if not 1 <= request.k <= MAX_K:
            raise BadInputError(f"k must be between 1 and {MAX_K}, not {request.k}")
        if request.mode not in MODES:
            raise BadInputError(f"mode must be one of {', '.join(MODES)}, not {request.mode!r}")
        date_from = _iso_date(request.date_from, "date_from")
        date_to = _iso_date(request.date_to, "date_to")
        if date_from and date_to and date_from > date_to:
            raise BadInputError(f"date_from ({date_from}) is after date_to ({date_to}); swap them")
        ignored = tuple(f"{kind}:{value}" for kind, value in parse_switched_off(request.ignore_filters))
        return replace(request, query=query, doc_ids=tuple(request.doc_ids), date_from=date_from, date_to=date_to,
                       speaker=request.speaker or None, source=request.source or None, ignore_filters=ignored)

    # -- search -----------------------------------------------------------
    def search(self, request: SearchRequest) -> SearchResult:
        started = time.perf_counter()
        request = self.validate(request)
        retrieval = self._retrieve(request)
        return SearchResult(request.query, request.mode, round((time.perf_counter() - started) * 1000, 2), retrieval.hits,
                            facets=retrieval.facets, **_named(retrieval))

    def analyse(self, query: str, store_version: int) -> QueryAnalysis:
        """The query read once: language, the dates it names, the collection's speakers it names."""
        return analyse(query, english=is_english(query), speakers=self._known_speakers(store_version),
                       clause_rule=self.ranking.clauses)

    def _known_speakers(self, version: int) -> frozenset[str]:
        cached_version, speakers = self._speakers
        if cached_version != version:
            speakers = self.collection.store.speakers()
            self._speakers = (version, speakers)
        return speakers

    def _retrieve(self, request: SearchRequest) -> Retrieval:
        """The steps of qa.search.retrieval in order; those that read the collection on one view of it.

        dense and lexical modes are one index each, unmixed; hybrid (the default) adds what the query
        names, its clauses' cosines and the second stage.
        """
        # Concurrency comes from concurrent requests; each one runs on a single core.
        use_single_thread()
        config = self.ranking
        with self.collection.snapshot() as view:
            named = self.analyse(request.query, view.version)
            query = self._query(request, named, view)
            candidates = find_candidates(view, query, config)
            evidence = gather_evidence(view, query, candidates, config.fusion)
            ranking = fuse_evidence(query, candidates, evidence, config.fusion)
            read = read_passages(view, query, candidates, ranking, config)
        if query.hybrid:
            ranking = second_stage(query, ranking, read, config.second_stage, self.reranker)
        hits = collapse_hits(ranking, query, read, config)
        applied = tuple(query.analysis.filters()) if query.prefers else ()
        return Retrieval(hits, named, facets_of(read.passages, read.documents) if query.with_facets else None, applied)

    def _query(self, request: SearchRequest, named: QueryAnalysis, view: CollectionView) -> Query:
        """The request as the retrieval steps read it: its vectors and BM25 words, for the sides its mode runs."""
        # What the query names, less what the user switched off, is what retrieval goes by.
        analysis = named.without(parse_switched_off(request.ignore_filters))
        hybrid = request.mode == "hybrid"
        vector = self.embed_query(request.query) \
            if request.mode in ("hybrid", "dense") and view.vectors.count() > 0 else None
        words = tuple(self.lexical_query(request.query, view.lexical)) \
            if request.mode in ("hybrid", "lexical") else None
        clause_vectors = tuple(self.embed_query(clause) for clause in analysis.clauses) \
            if hybrid and vector is not None else ()
        where = PassageFilter(doc_ids=request.doc_ids, date_from=request.date_from, date_to=request.date_to,
                              speaker=request.speaker, source=request.source)
        return Query(request.query, request.mode, request.k, analysis, where, request.exclude_doc, request.prefer,
                     vector, clause_vectors, words)

    def lexical_query(self, text: str, lexical: LexicalReader | None = None) -> list[str]:
        """BM25 tokens of the query; an English query is first put into Chinese words the collection uses."""
        if not is_english(text):
            return lexical_tokens(text)
        if lexical is None:
            with self.collection.snapshot() as view:
                return self.lexical_query(text, view.lexical)
        translated = translate_query(text, known=lambda word: all(lexical.knows(t) for t in lexical_tokens(word)),
                                     known_word=lexical.knows if lexical.knows_in_memory else None)
        return lexical_tokens(" ".join(translated))

    def embed_query(self, text: str) -> np.ndarray:
        """One vector for a query of any length (qa.search.query_vectors), shared between requests."""
        assert self.query_vectors is not None, "embedding text needs the model: build the service with an encoder"
        return self.query_vectors.embed(text)

    # -- similar policy language ------------------------------------------
    def similar(self, *, text: str | None = None, chunk_id: str | None = None, k: int = 10,
                exclude_doc: str | None = None, mode: str = "hybrid", prefer: bool = True,
                ignore_filters: Sequence[str] = ()) -> SearchResult:
        started = time.perf_counter()
        source: Passage | None = None
        if chunk_id:
            source = self.passage(chunk_id)
            text = source.text
            exclude_doc = exclude_doc or source.doc_id
        if not text or not text.strip():
            raise BadInputError("give the text to compare (text=...) or the chunk_id of a stored passage")
        request = self.validate(SearchRequest(text, k=k, mode=mode, exclude_doc=exclude_doc, prefer=prefer,
                                              ignore_filters=tuple(ignore_filters)))
        retrieval = self._retrieve(request)
        hits = retrieval.hits
        spans: dict[str, list[tuple[int, int]]] = {}
        marked = []
        for hit in hits:
            in_source, in_hit = shared_spans(request.query, hit.passage.text)
            spans[hit.passage.chunk_id] = in_source
            marked.append(replace(hit, highlights=tuple(in_hit)))
        took = round((time.perf_counter() - started) * 1000, 2)
        return SearchResult(request.query, request.mode, took, marked, source, spans, **_named(retrieval))

    # -- documents ----------------------------------------------------------
    def passage(self, chunk_id: str) -> Passage:
        store = self.collection.store
        pid = store.pid_of_chunk(chunk_id)
        passage = store.passages_by_pid([pid]).get(pid) if pid is not None else None
        if passage is None:
            raise NotFoundError(f"no passage with chunk_id {chunk_id!r}; take chunk ids from search results")
        return passage

    def document(self, doc_id: str) -> tuple[Document, list[Passage]]:
        store = self.collection.store
        document = store.get_document(doc_id)
        if document is None:
            raise NotFoundError(f"no document with id {doc_id!r}; list them with GET /api/documents or `speechqa docs list`")
        return document, store.passages_of(doc_id)

    def phrase(self, request: PhraseRequest) -> PhraseTimeline:
        """Every exact occurrence of a phrase (qa.search.phrase): needs the store only, never the model."""
        return phrase_timeline(self.collection.store, request)

    def documents(self, offset: int = 0, limit: int = 50) -> tuple[list[tuple[DocumentSummary, int]], int]:
        if offset < 0 or not 1 <= limit <= 500:
            raise BadInputError("offset must be ≥ 0 and limit between 1 and 500")
        store = self.collection.store
        return store.list_documents(offset, limit), store.count_documents()

    def stats(self) -> dict:
        store = self.collection.store
        indexes = self.collection.stats()
        return {
            "documents": store.count_documents(),
            "chunks": store.count_passages(),
            "model": self.collection.model,
            "index": indexes["index"],
            "index_recall_at_10": indexes["recall_at_10"],
        }


def _named(retrieval: Retrieval) -> dict:
    """SearchResult's fields on what the query names: all of it, and what of it favoured documents."""
    return {"preferences": retrieval.analysis.preferences, "preferences_applied": bool(retrieval.applied_filters),
            "applied_filters": retrieval.applied_filters}
