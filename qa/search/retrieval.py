"""Retrieval as named steps: candidates → evidence → fusion → second stage → hits.

Each step is a plain function of frozen dataclasses and the ranking configuration's section it needs
(qa.search.ranking). The search service (qa.search.service) reads the query once into a `Query` and
runs the steps in order, the first ones on one view of the collection; a test can run any one alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from qa.index.contract import CollectionView
from qa.search.fusion import fuse, ranked, union_candidates, with_clauses, with_rendering
from qa.search.highlight import highlight_sentences
from qa.search.query import QueryAnalysis
from qa.search.ranking import CollapseRule, FusionWeights, RankingConfig, SecondStageWeights
from qa.search.rerank import Candidate, CrossEncoderScorer, rerank
from qa.text.shingles import gram_containment
from qa.types import DocumentSummary, Hit, Passage, PassageFilter

# (pid, score), best first: what fusion and the second stage hand on.
Ranking = list[tuple[int, float]]


@dataclass(frozen=True, eq=False)
class Query:
    """A validated request as the steps read it: what to look for, where, and by which evidence."""

    text: str
    mode: str  # hybrid, dense or lexical
    k: int
    analysis: QueryAnalysis  # what the query names, less what the user switched off
    where: PassageFilter = PassageFilter()
    exclude_doc: str | None = None  # similar-passage searches leave out the source's document
    prefer: bool = True  # whether the dates and speakers it names may favour documents
    vector: np.ndarray | None = None  # None: the dense side does not run
    clause_vectors: tuple[np.ndarray, ...] = ()  # a hybrid question's clauses', each met on its own
    words: tuple[str, ...] | None = None  # BM25 words; None: the lexical side does not run
    rendering_vector: np.ndarray | None = None  # a hybrid English question's Chinese rendering's

    @property
    def hybrid(self) -> bool:
        return self.mode == "hybrid"

    @property
    def prefers(self) -> bool:
        """Whether what the query names favours documents: hybrid searches only, unless turned off."""
        return self.hybrid and self.prefer

    @property
    def with_facets(self) -> bool:
        """Facets count a search's candidates; similar-passage searches have none."""
        return self.exclude_doc is None


@dataclass(frozen=True, eq=False)
class Candidates:
    pids: np.ndarray  # every pid any list found, in order of first appearance
    dense_depth: int  # how many the unscoped lists were asked for: fusion scales cosines over that list


@dataclass(frozen=True, eq=False)
class Evidence:
    """Each candidate's scores, in the candidates' order; None for a side that did not run."""

    cosine: np.ndarray | None  # with its best sentence, mixed with its clauses' for a question of several
    bm25: np.ndarray | None


@dataclass(frozen=True)
class Read:
    """What one read of the store gives the later steps: passages, their documents, title cosines."""

    passages: Mapping[int, Passage]
    documents: Mapping[str, DocumentSummary]
    title_cosines: Mapping[str, float] | None = None  # an English hybrid question's, for the second stage

    def has(self, pid: int) -> bool:
        """Whether the passage and its document were both read (a concurrent removal may take either)."""
        return pid in self.passages and self.passages[pid].doc_id in self.documents


def find_candidates(view: CollectionView, query: Query, config: RankingConfig) -> Candidates:
    """The union of each index's list under the request's filters, and of each named period's lists.

    Each named date also draws candidates from its own period, so the right year's speech is among them
    even when other years' look-alikes fill the unfiltered lists. An English question's Chinese rendering
    draws its own dense list: it meets Chinese passages the English vector misses.
    """
    depth = config.depths.candidate_depth(query.k)
    scopes: list[tuple[PassageFilter, int]] = [(query.where, depth)]
    if query.prefers:
        periods = [_within(query.where, *period) for date in query.analysis.dates for period in date.periods()]
        scopes += [(period, config.second_stage.depth) for period in periods if period is not None]
    lists: list[np.ndarray] = []
    for scope, scope_depth in scopes:
        if query.vector is not None:
            lists.append(view.vectors.search(query.vector, scope_depth, scope, query.exclude_doc)[0])
        if query.words is not None:
            lists.append(view.lexical.search(query.words, scope_depth, scope, query.exclude_doc)[0])
    if query.rendering_vector is not None:
        lists.append(view.vectors.search(query.rendering_vector, depth, query.where, query.exclude_doc)[0])
    return Candidates(union_candidates(*lists), depth)


def gather_evidence(view: CollectionView, query: Query, candidates: Candidates, weights: FusionWeights) -> Evidence:
    """Every candidate's cosine and BM25, whichever list found it."""
    pids = candidates.pids
    cosine = None
    if query.vector is not None and len(pids):
        rendering = () if query.rendering_vector is None else (query.rendering_vector,)
        if query.clause_vectors or rendering:
            # Each clause of a question (who or what it is about, what it asks) is met by some sentence
            # of the passage that answers it, not necessarily the one the whole query meets best; an
            # English question's Chinese rendering is met by its own best sentence too. One read serves all.
            cosines = view.sentence_cosines(np.stack([query.vector, *query.clause_vectors, *rendering]), pids)
            clause_count = len(query.clause_vectors)
            cosine = cosines[:, 0]
            if clause_count:
                cosine = with_clauses(cosine, cosines[:, 1 : 1 + clause_count].mean(axis=1),
                                      clause_weight=weights.clause_weight)
            if rendering:
                cosine = with_rendering(cosine, cosines[:, -1], rendering_share=weights.rendering_share)
        else:
            cosine = view.dense_scores(query.vector, pids)
    bm25 = view.lexical.score(query.words, pids) if query.words is not None and len(pids) else None
    return Evidence(cosine, bm25)


def fuse_evidence(query: Query, candidates: Candidates, evidence: Evidence, weights: FusionWeights) -> Ranking:
    """The candidates ranked: dense and lexical modes by their one side, unmixed; hybrid by both, fused."""
    if query.mode == "dense":
        scores = evidence.cosine
    elif query.mode == "lexical":
        scores = evidence.bm25
    else:
        scores = fuse(evidence.cosine, evidence.bm25, dense_weight=weights.dense_weight,
                      dense_depth=candidates.dense_depth)
    return ranked(candidates.pids, scores) if scores is not None else []


def read_passages(view: CollectionView, query: Query, ranking: Ranking, config: RankingConfig) -> Read:
    """One read of the store for the second stage and the hits: the passages they can reach, and their documents
    (facets, which count every candidate, read only what they count: CollectionView.facet_fields)."""
    wanted = [pid for pid, _ in ranking[: max(config.second_stage.depth, config.depths.hit_window(query.k))]]
    passages = view.passages(wanted)
    documents = view.documents(list(dict.fromkeys(p.doc_id for p in passages.values())))
    read = Read(passages, documents)
    if query.hybrid and query.analysis.english and query.vector is not None:
        titles = {documents[passages[pid].doc_id].metadata.title for pid, _ in ranking[: config.second_stage.depth]
                  if read.has(pid)}
        read = replace(read, title_cosines=view.title_scores(query.vector, [title for title in titles if title]))
    return read


def second_stage(query: Query, ranking: Ranking, read: Read, weights: SecondStageWeights,
                 cross_encoder: CrossEncoderScorer | None = None) -> Ranking:
    """The first fused candidates rescored with finer evidence (qa.search.rerank); the rest below, in order."""
    head = [Candidate(pid, score, read.passages[pid], read.documents[read.passages[pid].doc_id])
            for pid, score in ranking[: weights.depth] if read.has(pid)]
    return rerank(query.analysis, query.words or (), head, use_preferences=query.prefer, cross_encoder=cross_encoder,
                  title_cosines=read.title_cosines, weights=weights) + ranking[weights.depth :]


def collapse_hits(ranking: Sequence[tuple[int, float]], query: Query, read: Read, config: RankingConfig) -> list[Hit]:
    """The top k, near-identical passages collapsed into the best-scoring copy, which counts the others."""
    candidates = [(read.passages[pid], score) for pid, score in ranking[: config.depths.hit_window(query.k)]
                  if read.has(pid)]
    near = _near_identical(*gram_containment([passage.text for passage, _ in candidates]), config.collapse).tolist()
    kept: list[int] = []
    duplicates: dict[int, int] = {}
    for i in range(len(candidates)):
        twin = next((j for j in kept if near[i][j]), None)
        if twin is not None:
            duplicates[twin] += 1
        elif len(kept) < query.k:
            kept.append(i)
            duplicates[i] = 0
    return [
        Hit(
            rank=rank,
            score=round(candidates[i][1], 4),
            passage=candidates[i][0],
            document=read.documents[candidates[i][0].doc_id],
            highlights=tuple(_highlights(candidates[i][0].text, query)),
            duplicates=duplicates[i],
        )
        for rank, i in enumerate(kept, start=1)
    ]


def _highlights(text: str, query: Query) -> list[tuple[int, int]]:
    """The sentences of a hit that best answer the query; for an English question, whose words are not in
    a Chinese text, the ones that best hold the Chinese words it was read as (its BM25 words)."""
    spans = highlight_sentences(text, query.text)
    if not spans and query.analysis.english and query.words:
        spans = highlight_sentences(text, " ".join(query.words), max_spans=1)
    return spans


def _within(where: PassageFilter, first: dt.date, last: dt.date) -> PassageFilter | None:
    """`where` narrowed to a period; None when the two do not overlap."""
    date_from = max(first.isoformat(), where.date_from or first.isoformat())
    date_to = min(last.isoformat(), where.date_to or last.isoformat())
    if date_from > date_to:
        return None
    return replace(where, date_from=date_from, date_to=date_to)


def _near_identical(shared: np.ndarray, sizes: np.ndarray, rule: CollapseRule) -> np.ndarray:
    """Whether each pair of texts is one text twice, from their shared and own n-gram counts (gram_containment)."""
    small, large = np.minimum.outer(sizes, sizes), np.maximum.outer(sizes, sizes)
    return (small > 0) & (small >= rule.comparable_length * large) & (shared >= rule.shared_grams * small)
