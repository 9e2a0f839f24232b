"""The one facade every front end calls: search, similar passages, documents, uploads."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from embeddings.base import Encoder
from qa.errors import BadInputError, NotFoundError
from qa.index.collection import Collection, lower_thread_priority
from qa.index.indexes import LexicalReader
from qa.index.vector_index import use_single_thread
from qa.ingest.pipeline import Ingester, IngestReport
from qa.search.crosslingual import is_english, translate_query
from qa.search.facets import Facets, facets_of
from qa.search.fusion import fuse, ranked, union_candidates, with_clauses
from qa.search.highlight import highlight_sentences
from qa.search.phrase import PhraseRequest, PhraseTimeline, phrase_timeline
from qa.search.query import NamedDate, QueryAnalysis, analyse, parse_switched_off
from qa.search.rerank import RERANK_DEPTH, Candidate, CrossEncoderScorer, rerank, word_rarity
from qa.text.alignment import shared_spans
from qa.text.normalize import drop_surrogates, to_simplified
from qa.text.sentences import split_sentences
from qa.text.shingles import gram_containment
from qa.text.tokens import lexical_tokens
from qa.types import Document, DocumentSummary, Hit, Passage, PassageFilter, RawDocument, Rejection

MODES = ("hybrid", "dense", "lexical")
MAX_K = 100
# Two passages say the same thing (repeated scrapes, a paragraph reused in another speech,
# boilerplate) when this share of the shorter one's distinct character 4-grams is in the other
# and the shorter is at least half as long; they are collapsed into one result.
NEAR_IDENTICAL = 0.8
COMPARABLE_LENGTH = 0.5
QUERY_WINDOW_CHARS = 350
QUERY_VECTOR_CACHE = 2048  # recent query vectors kept, about 3 MB
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
    def __init__(self, collection: Collection, encoder: Encoder | None, *, max_query_chars: int = 2000,
                 batch_size: int = 32, reranker: CrossEncoderScorer | None = None) -> None:
        """`encoder` None: a service for browsing and removing documents, which never needs the model.
        `reranker`: a cross-encoder for the second stage (embeddings.cross_encoder), when one is configured."""
        self.collection = collection
        self.reranker = reranker
        self._speakers: tuple[int, frozenset[str]] = (-1, frozenset())
        self.encoder = encoder
        self.max_query_chars = max_query_chars
        self.batch_size = batch_size
        self._write_lock = threading.Lock()
        self._changes: ThreadPoolExecutor | None = None
        self._query_vectors: dict[str, np.ndarray] = {}  # oldest first
        self._query_vectors_lock = threading.Lock()
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
        return analyse(query, english=is_english(query), speakers=self._known_speakers(store_version))

    def _known_speakers(self, version: int) -> frozenset[str]:
        cached_version, speakers = self._speakers
        if cached_version != version:
            speakers = self.collection.store.speakers()
            self._speakers = (version, speakers)
        return speakers

    def _retrieve(self, request: SearchRequest) -> Retrieval:
        """query -> candidates from each index -> fusion -> second stage -> hits, on one view of the collection.

        dense and lexical modes are one index each, unmixed; hybrid (the default) adds what the query
        names, its clauses' cosines and the second stage.
        """
        # Concurrency comes from concurrent requests; each one runs on a single core.
        use_single_thread()
        where = PassageFilter(doc_ids=request.doc_ids, date_from=request.date_from, date_to=request.date_to,
                              speaker=request.speaker, source=request.source)
        hybrid = request.mode == "hybrid"
        with self.collection.snapshot() as view:
            named = self.analyse(request.query, view.version)
            # What the query names, less what the user switched off, is what retrieval goes by.
            analysis = named.without(parse_switched_off(request.ignore_filters))
            depth = max(100, 4 * request.k)
            use_dense = request.mode in ("hybrid", "dense") and view.vectors.count() > 0
            query_vector = self.embed_query(request.query) if use_dense else None
            words = self.lexical_query(request.query, view.lexical) if request.mode in ("hybrid", "lexical") else None
            # Each named date also draws candidates from its own period, so the right year's speech
            # is among them even when other years' look-alikes fill the unfiltered lists.
            scopes = [where] + ([_within(where, date) for date in analysis.dates if date.year] if hybrid and request.prefer else [])
            lists: list[np.ndarray] = []
            for number, scope in enumerate(scopes):
                if scope is None:
                    continue
                scope_depth = depth if number == 0 else RERANK_DEPTH
                if query_vector is not None:
                    lists.append(view.vectors.search(query_vector, scope_depth, scope, request.exclude_doc)[0])
                if words is not None:
                    lists.append(view.lexical.search(words, scope_depth, scope, request.exclude_doc)[0])
            candidates = union_candidates(*lists)
            cosine = None
            if query_vector is not None and len(candidates):
                if hybrid and analysis.clauses:
                    # Each clause of a question (who or what it is about, what it asks) is met by some
                    # sentence of the passage that answers it, not necessarily the one the whole query meets best.
                    clause_vectors = [self.embed_query(clause) for clause in analysis.clauses]
                    cosines = view.sentence_cosines(np.stack([query_vector, *clause_vectors]), candidates)
                    cosine = with_clauses(cosines[:, 0], cosines[:, 1:].mean(axis=1))
                else:
                    cosine = view.dense_scores(query_vector, candidates)
            bm25 = view.lexical.score(words, candidates) if words is not None and len(candidates) else None
            if request.mode == "dense":
                scores = cosine
            elif request.mode == "lexical":
                scores = bm25
            else:
                scores = fuse(cosine, bm25, dense_depth=depth)
            ordered = ranked(candidates, scores) if scores is not None else []
            # One read of the store serves the second stage, the hits and the facets (which count
            # every candidate; similar-passage searches have none).
            with_facets = request.exclude_doc is None
            wanted = candidates.tolist() if with_facets else [pid for pid, _ in ordered[: max(RERANK_DEPTH, _hit_window(request.k))]]
            passages = view.passages(wanted)
            documents = view.documents(list(dict.fromkeys(p.doc_id for p in passages.values())))
            title_cosines = None
            if hybrid and analysis.english and query_vector is not None:
                titles = {documents[passages[pid].doc_id].metadata.title for pid, _ in ordered[:RERANK_DEPTH]
                          if pid in passages and passages[pid].doc_id in documents}
                title_cosines = view.title_scores(query_vector, [title for title in titles if title])
        if hybrid:
            ordered = self._second_stage(analysis, words or [], ordered, passages, documents, request.prefer, title_cosines)
        hits = self._hits(ordered, request.k, request.query, passages, documents)
        applied = tuple(analysis.filters()) if hybrid and request.prefer else ()
        return Retrieval(hits, named, facets_of(passages, documents) if with_facets else None, applied)

    def _second_stage(self, analysis: QueryAnalysis, words: list[str], ordered: list[tuple[int, float]],
                      passages: Mapping[int, Passage], documents: Mapping[str, DocumentSummary], prefer: bool,
                      title_cosines: Mapping[str, float] | None) -> list[tuple[int, float]]:
        head = ordered[:RERANK_DEPTH]
        candidates = [Candidate(pid, score, passages[pid], documents[passages[pid].doc_id])
                      for pid, score in head if pid in passages and passages[pid].doc_id in documents]
        return rerank(analysis, words, candidates, use_preferences=prefer, cross_encoder=self.reranker,
                      title_cosines=title_cosines) + ordered[RERANK_DEPTH:]

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
        """One vector for a query of any length: long pasted text is embedded in windows and averaged.

        The same query comes back often (the next page, another filter, the web form and the API
        asking alike), so recent vectors are kept: a repeat skips the model (scripts/bench.py
        measures what embedding a query costs).
        """
        vector = self._query_vectors.get(text)
        if vector is None:
            vector = self._embed_query(text)
            vector.flags.writeable = False  # shared between requests
            with self._query_vectors_lock:
                self._query_vectors[text] = vector
                while len(self._query_vectors) > QUERY_VECTOR_CACHE:
                    self._query_vectors.pop(next(iter(self._query_vectors)))
        return vector

    def _embed_query(self, text: str) -> np.ndarray:
        encoder = self._model()
        normalised = to_simplified(text)
        if encoder.count_tokens(normalised) <= encoder.max_tokens:
            return encoder.embed_query(normalised)
        windows = _sentence_windows(normalised, QUERY_WINDOW_CHARS)
        vectors = encoder.embed(windows, "query", self.batch_size)
        weights = np.array([len(w) for w in windows], dtype=np.float32)
        mean = (vectors * weights[:, None]).sum(axis=0)
        return (mean / np.linalg.norm(mean)).astype(np.float32)

    def _hits(self, ranked: Sequence[tuple[int, float]], k: int, query: str, passages: Mapping[int, Passage],
              documents: Mapping[str, DocumentSummary]) -> list[Hit]:
        """The top k, near-identical passages collapsed, from passages and documents read for the request."""
        candidates = [(passages[pid], score) for pid, score in ranked[: _hit_window(k)]
                      if pid in passages and passages[pid].doc_id in documents]
        shared, sizes = gram_containment([passage.text for passage, _ in candidates])
        kept: list[int] = []
        duplicates: dict[int, int] = {}
        for i in range(len(candidates)):
            twin = next((j for j in kept if _near_identical(shared[i, j], sizes[i], sizes[j])), None)
            if twin is not None:
                duplicates[twin] += 1
            elif len(kept) < k:
                kept.append(i)
                duplicates[i] = 0
        return [
            Hit(
                rank=rank,
                score=round(candidates[i][1], 4),
                passage=candidates[i][0],
                document=documents[candidates[i][0].doc_id],
                highlights=tuple(highlight_sentences(candidates[i][0].text, query)),
                duplicates=duplicates[i],
            )
            for rank, i in enumerate(kept, start=1)
        ]

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

    # -- changes ------------------------------------------------------------
    def add_documents(self, records: Iterable[RawDocument | Rejection], *, prepare_workers: int | None = 0,
                      commit_passages: int = 256, progress: Callable[[int], None] | None = None,
                      yield_to_searches: bool = True) -> IngestReport:
        """Add documents: only their passages are embedded and indexed; searches see them once this returns.

        Uploads are small, so by default they are prepared here rather than in worker processes
        (None: as many as the machine suits, for a large ingest). `yield_to_searches` runs the work on
        a thread of lower priority (a server's uploads); a CLI ingest, alone on the machine, does not.
        """
        encoder = self._model()

        def add() -> IngestReport:
            with self._write_lock:
                return Ingester(self.collection, encoder, batch_size=self.batch_size, commit_passages=commit_passages,
                                progress=progress, prepare_workers=prepare_workers).add_records(records)

        if not yield_to_searches:
            return add()
        return self._changes_thread().submit(add).result()

    def add_files(self, files: Sequence[tuple[str, bytes]], *, max_file_bytes: int) -> IngestReport:
        """Add files given as (name, contents), such as a request's uploads: each is read in memory, never
        written to disk, and cited by its base name (qa.ingest.readers.read_named); one that cannot be
        read, or is over `max_file_bytes`, is rejected with the reason."""
        from qa.ingest.readers import read_named

        return self.add_documents(record for name, data in files
                                  for record in read_named(name, data, max_bytes=max_file_bytes))

    def _changes_thread(self) -> ThreadPoolExecutor:
        """One thread of lower CPU priority for uploads: embedding one takes a core, and searches
        running beside it should not wait for that core."""
        with self._query_vectors_lock:
            if self._changes is None:
                self._changes = ThreadPoolExecutor(1, thread_name_prefix="speechqa-changes",
                                                   initializer=lower_thread_priority)
            return self._changes

    def remove_document(self, doc_id: str) -> None:
        """Remove a document and its passages; a search that starts after this returns never sees them."""
        with self._write_lock:
            if not self.collection.remove_document(doc_id):
                raise NotFoundError(f"no document with id {doc_id!r}; nothing was removed")


def _named(retrieval: Retrieval) -> dict:
    """SearchResult's fields on what the query names: all of it, and what of it favoured documents."""
    return {"preferences": retrieval.analysis.preferences, "preferences_applied": bool(retrieval.applied_filters),
            "applied_filters": retrieval.applied_filters}


def _hit_window(k: int) -> int:
    """How many ranked passages the top k are drawn from: enough that collapsing near-identical ones still leaves k."""
    return 2 * k + 10


def _within(where: PassageFilter, date: NamedDate) -> PassageFilter | None:
    """`where` narrowed to the period a named date covers; None when the two do not overlap."""
    assert date.year is not None
    first = dt.date(date.year, date.month or 1, 1).isoformat()
    last = (dt.date(date.year, date.month, 1) + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1) \
        if date.month else dt.date(date.year, 12, 31)
    date_from = max(first, where.date_from or first)
    date_to = min(last.isoformat(), where.date_to or last.isoformat())
    if date_from > date_to:
        return None
    return replace(where, date_from=date_from, date_to=date_to)


def _near_identical(shared: int, size_a: int, size_b: int) -> bool:
    small, large = sorted((int(size_a), int(size_b)))
    return bool(small) and small >= COMPARABLE_LENGTH * large and shared >= NEAR_IDENTICAL * small


_SPACE = re.compile(r"\s+")


def _sentence_windows(text: str, size: int) -> list[str]:
    windows, current = [], ""
    for start, end in split_sentences(text):
        sentence = _SPACE.sub(" ", text[start:end])
        if current and len(current) + len(sentence) > size:
            windows.append(current)
            current = ""
        current += sentence
        while len(current) > size:
            windows.append(current[:size])
            current = current[size:]
    if current:
        windows.append(current)
    return windows or [text[:size]]
