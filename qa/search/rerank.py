"""The second stage: the first few dozen fused candidates rescored with finer evidence.

- The best sentence: an answer is usually one sentence of a passage, so a passage whose single best
  sentence holds most of the query's words beats one that spreads them thinly.
- What the query names (a year or month, a speaker): documents that fit get a soft bonus, never a
  filter, and the user sees the preference and can turn it off.
- A cross-encoder, when one is configured, reads query and passage together.

Weights were chosen on both development sets (README, "Retrieval quality"); each one alone moves a
candidate by a fraction of the fused score's range, so first-stage evidence still dominates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from qa.ingest.chunking import split_sentences
from qa.search.query import QueryAnalysis
from qa.textnorm import fold_width, to_simplified
from qa.types import DocumentSummary, Passage

RERANK_DEPTH = 50
SENTENCE_WEIGHT = 0.1
DATE_WEIGHT = 0.1
SPEAKER_WEIGHT = 0.1
CROSS_ENCODER_WEIGHT = 1.0

# (query, passage texts) -> one relevance score per passage, higher is better.
CrossEncoderScorer = Callable[[str, Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Candidate:
    pid: int
    score: float
    passage: Passage
    document: DocumentSummary


def best_sentence_coverage(words: Sequence[str], passage_text: str) -> float:
    """Share of the query's distinct words found in the passage's best single sentence (0..1).

    Words are compared in Simplified, lower case, full-width folded, the form BM25 words take.
    """
    distinct = list(dict.fromkeys(words))
    if not distinct:
        return 0.0
    text = fold_width(to_simplified(passage_text)).lower()
    sentences = [text[start:end] for start, end in split_sentences(text)] or [text]
    return max(sum(1 for word in distinct if word in sentence) for sentence in sentences) / len(distinct)


def preference_bonus(analysis: QueryAnalysis, document: DocumentSummary) -> float:
    """The soft bonus a document earns for fitting the dates and speakers the query names."""
    bonus = 0.0
    meta = document.metadata
    if analysis.dates and any(date.matches(meta.date) for date in analysis.dates):
        bonus += DATE_WEIGHT
    if analysis.speakers and meta.speaker and meta.speaker in analysis.speakers:
        bonus += SPEAKER_WEIGHT
    return bonus


def rerank(analysis: QueryAnalysis, words: Sequence[str], candidates: Sequence[Candidate], *,
           use_preferences: bool = True, cross_encoder: CrossEncoderScorer | None = None) -> list[tuple[int, float]]:
    """(pid, score) of the candidates rescored, best first; candidates beyond RERANK_DEPTH keep their order below.

    Args:
        analysis: the query as read once.
        words: the query's BM25 words (the sentence evidence counts them).
        candidates: fused candidates, best first.
        use_preferences: whether named dates and speakers earn their bonus (the user may turn it off).
        cross_encoder: a configured cross-encoder, or None.
    """
    head, tail = list(candidates[:RERANK_DEPTH]), list(candidates[RERANK_DEPTH:])
    if not head:
        return []
    scores = np.array([c.score for c in head], dtype=np.float32)
    if not analysis.english:  # an English query's Chinese words are dictionary guesses, not the user's words
        scores += SENTENCE_WEIGHT * np.array([best_sentence_coverage(words, c.passage.text) for c in head], dtype=np.float32)
    if use_preferences:
        scores += np.array([preference_bonus(analysis, c.document) for c in head], dtype=np.float32)
    if cross_encoder is not None:
        relevance = np.asarray(cross_encoder(analysis.text, [c.passage.text for c in head]), dtype=np.float32)
        low, high = float(relevance.min()), float(relevance.max())
        if high > low:
            scores += CROSS_ENCODER_WEIGHT * (relevance - low) / (high - low)
    order = np.argsort(-scores, kind="stable")
    ranked = [(head[i].pid, float(scores[i])) for i in order]
    # Everything below the head scored lower in the first stage; it stays below, in its order.
    floor = min(score for _, score in ranked)
    ranked += [(c.pid, min(c.score, floor)) for c in tail]
    return ranked
