"""The read side of the facade every front end calls: search, similar passages, phrases, reuse, documents."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace

import numpy as np

from embeddings.base import Encoder
from qa.errors import BadInputError, MissingItemError, NotFoundError
from qa.index.contract import Backend, CollectionView
from qa.index.faiss_index import use_single_thread
from qa.index.indexes import LexicalReader
from qa.search.changes import ChangeService
from qa.search.crosslingual import is_english, render_in_chinese, translate_query
from qa.search.facets import Facets, count_facet_fields
from qa.search.name_reading import NameReader, Reading, collection_words
from qa.search.phrase import PhraseTimeline, phrase_timeline
from qa.search.query import NamedDate, QueryAnalysis, analyse, parse_switched_off, without_dates
from qa.search.query_vectors import QueryVectors
from qa.search.ranking import DEFAULT_RANKING, RankingConfig
from qa.search.requests import API_WORDS, PhraseRequest, ReuseRequest, SearchRequest, SimilarRequest, TopReuseRequest
from qa.search.rerank import CrossEncoderScorer
from qa.search.retrieval import (
    Query,
    collapse_hits,
    find_candidates,
    fuse_evidence,
    gather_evidence,
    read_passages,
    second_stage,
)
from qa.search.reuse import ReuseReport, passages_with_reuse, reuse_of
from qa.search.reuse_top import TopReuse, most_reused
from qa.text.alignment import shared_spans
from qa.text.name_pairs import kept_pairs
from qa.text.rarity import word_rarity
from qa.text.tokens import lexical_tokens
from qa.types import Document, DocumentSummary, Hit, Passage

# Dictionary words whose presence in the collection a service remembers (SearchService._knows_word), at most.
_KNOWN_WORDS_HELD = 50_000


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
    # (kind, value) of each named date and speaker that favoured documents (those not switched off, when
    # allowed), and of each name read for BM25 ("name", "Sandra Oudkirk → 孫曉雅").
    applied_filters: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Retrieval:
    """One pass of the pipeline: the hits, the facets of the candidates they were cut from, and how the query was read."""

    hits: list[Hit]
    analysis: QueryAnalysis
    facets: Facets | None = None
    applied_filters: tuple[tuple[str, str], ...] = ()


class SearchService:
    """The read side of the facade: search, similar passages, phrases, documents, stats.

    Changes go through `changes` (qa.search.changes), over the same collection.
    """

    def __init__(self, collection: Backend, encoder: Encoder | None, *, max_query_chars: int = 2000,
                 batch_size: int = 32, reranker: CrossEncoderScorer | None = None,
                 ranking: RankingConfig = DEFAULT_RANKING, changes: ChangeService | None = None,
                 concurrent_searches: int | None = None) -> None:
        """`encoder` None: a service for browsing and removing documents, which never needs the model.
        `reranker`: a cross-encoder for the second stage (embeddings.cross_encoder), when one is configured.
        `ranking`: every weight and depth retrieval uses. `changes`: the change service, by default one
        over the same collection and encoder. `concurrent_searches`: how many searches run at once, the
        others waiting their turn (None: no bound; a server sets it from its cores, qa.app)."""
        self.collection = collection
        self._searching: AbstractContextManager = threading.BoundedSemaphore(concurrent_searches) \
            if concurrent_searches else nullcontext()
        self.reranker = reranker
        self.ranking = ranking
        self._speakers: tuple[int, frozenset[str]] = (-1, frozenset())
        self._names: tuple[int, NameReader] | None = None
        self._known_words: tuple[int, dict[str, bool]] = (-1, {})
        self.encoder = encoder
        self.max_query_chars = max_query_chars
        self.query_vectors = QueryVectors(encoder, window_chars=ranking.query_window_chars, batch_size=batch_size) \
            if encoder is not None else None
        self.changes = changes if changes is not None else ChangeService(collection, encoder, batch_size=batch_size)
        if encoder is not None:
            collection.ensure_indexes()

    def warm_up(self) -> None:
        """Load what the first query would otherwise wait for: the segmenter, the dictionary, the model's first run;
        start what makes later searches faster, and opening the reuse index where that takes long."""
        from qa.search.crosslingual import load_dictionary

        lexical_tokens("预热")
        load_dictionary()
        word_rarity("预热")
        self._model().embed_query("预热")
        self.collection.prepare_searches()
        self.collection.prepare_reuse()

    def _model(self) -> Encoder:
        """The encoder, for what embeds text: a service built without one only browses and removes documents."""
        assert self.encoder is not None, "embedding text needs the model: build the service with an encoder"
        return self.encoder

    # -- search -----------------------------------------------------------
    def search(self, request: SearchRequest) -> SearchResult:
        started = time.perf_counter()
        request = request.checked(self.max_query_chars)
        retrieval = self._retrieve(request)
        return SearchResult(request.query, request.mode, round((time.perf_counter() - started) * 1000, 2), retrieval.hits,
                            facets=retrieval.facets, **_named(retrieval))

    def analyse(self, query: str, store_version: int) -> QueryAnalysis:
        """The query read once: language, the dates it names, the collection's speakers it names, and an
        English question's names as the collection's name pairs read them."""
        english = is_english(query)
        return analyse(query, english=english, speakers=self._known_speakers(store_version),
                       clause_rule=self.ranking.clauses, names=self.name_reader(store_version) if english else None)

    def name_reader(self, version: int) -> NameReader:
        """The collection's kept name pairs as a reader, built again when the collection has changed."""
        cached = self._names
        if cached is None or cached[0] != version:
            counts = self.collection.name_pair_counts()
            cached = (version, NameReader(kept_pairs(counts), lambda pair: counts.get(pair, 1)))
            self._names = cached
        return cached[1]

    def _known_speakers(self, version: int) -> frozenset[str]:
        cached_version, speakers = self._speakers
        if cached_version != version:
            speakers = self.collection.speakers()
            self._speakers = (version, speakers)
        return speakers

    def _retrieve(self, request: SearchRequest) -> Retrieval:
        """The steps of qa.search.retrieval in order; those that read the collection on one view of it.

        dense and lexical modes are one index each, unmixed; hybrid (the default) adds what the query
        names, its clauses' cosines and the second stage. At most `concurrent_searches` run at once.
        """
        with self._searching:  # the others wait their turn: beyond the cores they only contend
            # Concurrency comes from concurrent requests; each one runs on a single core.
            use_single_thread()
            config = self.ranking
            with self.collection.snapshot() as view:
                named = self.analyse(request.query, view.version)
                if named.english and request.mode == "hybrid" and view.vectors.count() > 0:
                    named = replace(named, rendering=self.render_in_chinese(request.query, view.lexical, named.names,
                                                                              named.dates) or None)
                query = self._query(request, named, view)
                candidates = find_candidates(view, query, config)
                evidence = gather_evidence(view, query, candidates, config.fusion)
                ranking = fuse_evidence(query, candidates, evidence, config.fusion)
                read = read_passages(view, query, ranking, config)
                facets = count_facet_fields(view.facet_fields(candidates.pids.tolist())) if query.with_facets else None
            if query.hybrid:
                ranking = second_stage(query, ranking, read, config.second_stage, self.reranker)
            hits = collapse_hits(ranking, query, read, config)
            applied = tuple(query.analysis.filters()) if query.prefers else ()
            if query.words is not None:  # names are read for BM25, in every mode that runs it
                applied += tuple(query.analysis.name_filters())
            if query.rendering_vector is not None:
                applied += tuple(query.analysis.reading_filters())
            return Retrieval(hits, named, facets, applied)

    def _query(self, request: SearchRequest, named: QueryAnalysis, view: CollectionView) -> Query:
        """The request as the retrieval steps read it: its vectors and BM25 words, for the sides its mode runs."""
        # What the query names, less what the user switched off, is what retrieval goes by.
        analysis = named.without(parse_switched_off(request.ignore_filters))
        hybrid = request.mode == "hybrid"
        vector = self.embed_query(request.query) \
            if request.mode in ("hybrid", "dense") and view.vectors.count() > 0 else None
        words = tuple(self.lexical_query(request.query, view.lexical, analysis.names)) \
            if request.mode in ("hybrid", "lexical") else None
        clause_vectors = tuple(self.embed_query(clause) for clause in analysis.clauses) \
            if hybrid and vector is not None else ()
        rendering_vector = self.embed_query(analysis.rendering) if hybrid and vector is not None and analysis.rendering \
            else None
        return Query(request.query, request.mode, request.k, analysis, request.where, request.exclude_doc, request.prefer,
                     vector, clause_vectors, words, rendering_vector)

    def lexical_query(self, text: str, lexical: LexicalReader | None = None, names: Sequence[Reading] = ()) -> list[str]:
        """BM25 tokens of the query. An English query is put into Chinese words the collection uses: the
        names read by its name pairs (`names`, from the query's analysis) as the collection writes them,
        the rest through the dictionary; its Latin words that the collection holds and that it writes
        as codes (AIT, 5G) are kept as they are."""
        if not is_english(text):
            return lexical_tokens(text)
        if lexical is None:
            with self.collection.snapshot() as view:
                return self.lexical_query(text, view.lexical, names)
        translated = translate_query(_without_names(text, names), known=self._knows_word(lexical),
                                     known_word=self._knows_whole_word(lexical))
        words = lexical_tokens(" ".join([chinese for reading in names for chinese in reading.chinese] + translated))
        return words + [word for word in collection_words(text, lexical.knows) if word not in words]

    def render_in_chinese(self, text: str, lexical: LexicalReader, names: Sequence[Reading] = (),
                          dates: Sequence[NamedDate] = ()) -> str:
        """An English query in Chinese words for the model (qa.search.crosslingual.render_in_chinese): the names
        its name pairs read (`names`, from the query's analysis) as the collection writes them most, the
        dates it names (`dates`) as Chinese writes them, then the rest through the dictionary."""
        return render_in_chinese(without_dates(_without_names(text, names)), known=self._knows_word(lexical),
                                 commonness=word_rarity, known_word=self._knows_whole_word(lexical),
                                 names=[reading.chinese[0] for reading in names], dates=[d.in_chinese() for d in dates if d.month])

    def _knows_word(self, lexical: LexicalReader) -> Callable[[str], bool]:
        """Whether the collection holds every BM25 token of a dictionary word, remembered for the reader's
        version: an English question asks it of thousands of candidate translations, its BM25 words and its
        rendering of the same ones, and the next question of many of them again."""
        version, memo = self._known_words
        if version != lexical.version or len(memo) > _KNOWN_WORDS_HELD:
            memo = {}
            self._known_words = (lexical.version, memo)

        def knows(word: str) -> bool:
            found = memo.get(word)
            if found is None:
                found = memo[word] = all(lexical.knows(token) for token in lexical_tokens(word))
            return found

        return knows

    def _knows_whole_word(self, lexical: LexicalReader) -> Callable[[str], bool] | None:
        """Whether the collection holds a word as one BM25 token, where the backend answers that from memory:
        pinyin names are read by asking it of thousands of spellings (qa.search.crosslingual.pinyin_names)."""
        return lexical.knows if self.collection.capabilities.knows_in_memory else None

    def embed_query(self, text: str) -> np.ndarray:
        """One vector for a query of any length (qa.search.query_vectors), shared between requests."""
        assert self.query_vectors is not None, "embedding text needs the model: build the service with an encoder"
        return self.query_vectors.embed(text)

    # -- similar policy language ------------------------------------------
    def similar(self, similar: SimilarRequest) -> SearchResult:
        """Passages of other documents like the pasted text, or like a stored passage (its own document left out)."""
        started = time.perf_counter()
        chunk_id = similar.stored_chunk()
        source = self.passage(chunk_id) if chunk_id else None
        text = source.text if source else similar.text or ""
        exclude_doc = similar.exclude_doc or (source.doc_id if source else None)
        request = similar.search(text, exclude_doc).checked(self.max_query_chars)
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
        passage = self.collection.passage(chunk_id)
        if passage is None:
            raise NotFoundError(f"no passage with chunk_id {chunk_id!r}; take chunk ids from search results")
        return passage

    def document(self, doc_id: str) -> tuple[Document, list[Passage]]:
        document = self.collection.get_document(doc_id)
        if document is None:
            raise MissingItemError(f"no document with id {doc_id!r}; {{list_documents}} lists them", API_WORDS)
        return document, self.collection.passages_of(doc_id)

    def phrase(self, request: PhraseRequest) -> PhraseTimeline:
        """Every exact occurrence of a phrase (qa.search.phrase): needs the store only, never the model."""
        return phrase_timeline(self.collection, request)

    def reuse(self, request: ReuseRequest) -> ReuseReport:
        """Every document reusing a passage's wording (qa.search.reuse): the reuse index and the store, never the model."""
        with self.collection.reuse_snapshot() as view:
            return reuse_of(view, request)

    def reuse_top(self, request: TopReuseRequest) -> TopReuse:
        """The most reused passages (qa.search.reuse_top)."""
        with self.collection.reuse_snapshot() as view:
            return most_reused(view, request)

    def reused(self, passages: Sequence[Passage]) -> set[str]:
        """The chunk ids of these passages whose wording another document shares (none where the backend keeps no
        reuse index): which results get a link to their reuse."""
        if not self.collection.capabilities.finds_reuse or not passages:
            return set()
        with self.collection.reuse_snapshot() as view:
            return passages_with_reuse(view, passages)

    def documents(self, offset: int = 0, limit: int = 50) -> tuple[list[tuple[DocumentSummary, int]], int]:
        if offset < 0 or not 1 <= limit <= 500:
            raise BadInputError("offset must be ≥ 0 and limit between 1 and 500")
        return self.collection.list_documents(offset, limit), self.collection.count_documents()

    def stats(self) -> dict:
        indexes = self.collection.stats()
        return {
            "documents": self.collection.count_documents(),
            "chunks": self.collection.count_passages(),
            "model": self.collection.model,
            "index": indexes["index"],
            "index_recall_at_10": indexes["recall_at_10"],
        }


def _without_names(text: str, names: Sequence[Reading]) -> str:
    """`text` less the names already read (each once): a name read is not looked up in the dictionary too."""
    for reading in names:
        text = text.replace(reading.english, " ", 1)
    return text


def _named(retrieval: Retrieval) -> dict:
    """SearchResult's fields on what the query names: all of it, and what of it favoured documents (a
    name read is applied whatever `prefer` says, so it alone does not make the preferences applied)."""
    favoured = any(kind not in ("name", "reading") for kind, _ in retrieval.applied_filters)
    return {"preferences": retrieval.analysis.preferences, "preferences_applied": favoured,
            "applied_filters": retrieval.applied_filters}
