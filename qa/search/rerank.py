"""The second stage: the first few dozen fused candidates rescored with finer evidence.

- The best sentence: an answer is usually one sentence of a passage, so a passage whose single best
  sentence holds most of the query's words beats one that spreads them thinly. Rare words count
  for more than common ones, and words of the document's title are left out: they say which
  document (already in every one of its passages' BM25 words), not which of its passages answers.
- For an English question, its cosine with the document's title instead: its Chinese words are
  dictionary guesses, and the model matches a short title across languages more surely than a long
  passage.
- What the query names (a year or month, a speaker): documents that fit get a soft bonus, never a
  filter, and the user sees the preference and can turn it off.
- A cross-encoder, when one is configured, reads query and passage together.

The weights are qa.search.ranking.SecondStageWeights; each one alone moves a candidate by a fraction
of the fused score's range, so first-stage evidence still dominates.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qa.search.query import QueryAnalysis
from qa.search.ranking import DEFAULT_RANKING, SecondStageWeights
from qa.text.normalize import lexical_form
from qa.text.rarity import word_rarity
from qa.text.sentences import split_sentences
from qa.types import DocumentSummary, Passage

# (query, passage texts) -> one relevance score per passage, higher is better.
CrossEncoderScorer = Callable[[str, Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Candidate:
    pid: int
    score: float
    passage: Passage
    document: DocumentSummary


@functools.lru_cache(maxsize=4096)
def _matching_form(text: str) -> str:
    """qa.text.normalize.lexical_form, remembered: the same titles come back query after query, and script
    conversion is the costly part."""
    return lexical_form(text)


# Joins a passage's sentences (_matching_sentences): a word without it is found within one sentence or not at all.
_SENTENCE_BREAK = "\0"


@functools.lru_cache(maxsize=4096)
def _matching_sentences(text: str) -> tuple[str, tuple[int, ...]]:
    """The sentences of a passage in its lexical form, joined by _SENTENCE_BREAK, and where each begins in
    that string; remembered: the same passages come back query after query, and splitting them costs as
    much again as the script conversion."""
    folded = lexical_form(text)
    sentences = [folded[start:end] for start, end in split_sentences(folded)] or [folded]
    starts = [0]
    for sentence in sentences[:-1]:
        starts.append(starts[-1] + len(sentence) + len(_SENTENCE_BREAK))
    return _SENTENCE_BREAK.join(sentences), tuple(starts)


def _sentence_totals(weights: Mapping[str, float], joined: str, starts: tuple[int, ...]) -> list[float]:
    """Each sentence's sum of the weights of the words it holds, each word once, added in `weights`' order.

    Each word is looked for along the joined sentences rather than in every sentence in turn: a search's
    words are in few of a passage's sentences. The sums are those of adding the sentence's words in order."""
    totals: list[float] = [0] * len(starts)  # int 0, as sum() starts, so every total is the same float
    for word, weight in weights.items():
        if not word or _SENTENCE_BREAK in word:  # in every sentence, or across two: look in each one
            for i, start in enumerate(starts):
                end = starts[i + 1] - len(_SENTENCE_BREAK) if i + 1 < len(starts) else len(joined)
                if word in joined[start:end]:
                    totals[i] += weight
            continue
        at = joined.find(word)
        while at >= 0:
            i = bisect.bisect_right(starts, at) - 1
            totals[i] += weight
            if i + 1 == len(starts):
                break
            at = joined.find(word, starts[i + 1])
    return totals


def best_sentence_coverage(words: Sequence[str], passage_text: str, title: str | None = None) -> float:
    """Rarity-weighted share of the query's distinct words found in the passage's best single sentence (0..1).

    Words found in `title` (the passage's document's) are not counted unless the title holds them all.
    """
    distinct = list(dict.fromkeys(words))
    if title:
        folded_title = _matching_form(title)
        distinct = [word for word in distinct if word not in folded_title] or distinct
    if not distinct:
        return 0.0
    weights = {word: word_rarity(word) for word in distinct}
    best = max(_sentence_totals(weights, *_matching_sentences(passage_text)))
    return best / sum(weights.values())


def preference_bonus(analysis: QueryAnalysis, document: DocumentSummary,
                     weights: SecondStageWeights = DEFAULT_RANKING.second_stage, passage_text: str = "") -> float:
    """The soft bonus a document earns for fitting the dates and speakers the query names: dated in a named
    period, or, through the passage, stating a named month or day."""
    bonus = 0.0
    meta = document.metadata
    fits = any(date.matches(meta.date) for date in analysis.dates)
    if not fits and analysis.dates and passage_text:  # dated outside every named period: does the passage state one?
        folded = _matching_sentences(passage_text)[0]  # the word share's folded sentences, remembered
        fits = any(date.stated_in(folded) for date in analysis.dates)
    if fits:
        bonus += weights.date_weight
        if any(date.fits_day(meta.date) for date in analysis.dates):
            bonus += weights.date_weight  # a named day is a second, finer date the document fits
    if analysis.speakers and meta.speaker and meta.speaker in analysis.speakers:
        bonus += weights.speaker_weight
    return bonus


def title_standing(title_cosines: Mapping[str, float], candidates: Sequence[Candidate],
                   full_at: float = DEFAULT_RANKING.second_stage.title_full_at) -> np.ndarray:
    """How far each candidate's title cosine stands above the candidates' mean, in standard deviations,
    held to 0..1 (0 at or below the mean, 1 from `full_at` deviations up); 0 without a title vector.

    A title earns the bonus by standing out among the candidates' titles, not by ranking first among
    titles that all fit the question about as badly: scaled from worst to best instead, a hair's
    difference between unrelated titles took the whole bonus (README, "Retrieval quality").
    """
    known = [title_cosines.get(c.document.metadata.title or "") for c in candidates]
    values = np.array([value for value in known if value is not None], dtype=np.float32)
    spread = float(values.std()) if len(values) > 1 else 0.0
    if spread <= 0:
        return np.zeros(len(candidates), dtype=np.float32)
    mean, scale = float(values.mean()), spread * full_at
    return np.array([0.0 if value is None else min(max((value - mean) / scale, 0.0), 1.0) for value in known],
                    dtype=np.float32)


def rerank(analysis: QueryAnalysis, words: Sequence[str], candidates: Sequence[Candidate], *,
           use_preferences: bool = True, cross_encoder: CrossEncoderScorer | None = None,
           title_cosines: Mapping[str, float] | None = None,
           weights: SecondStageWeights = DEFAULT_RANKING.second_stage) -> list[tuple[int, float]]:
    """(pid, score) of the candidates rescored, best first; candidates beyond `weights.depth` keep their order below.

    Args:
        analysis: the query as read once.
        words: the query's BM25 words (the sentence evidence counts them).
        candidates: fused candidates, best first.
        use_preferences: whether named dates and speakers earn their bonus (the user may turn it off).
        cross_encoder: a configured cross-encoder, or None.
        title_cosines: the query's cosine with the candidates' document titles (those the collection
            holds a vector for), read for English questions.
        weights: the second stage's depth and weights.
    """
    head, tail = list(candidates[: weights.depth]), list(candidates[weights.depth :])
    if not head:
        return []
    scores = np.array([c.score for c in head], dtype=np.float32)
    if not analysis.english:  # an English query's Chinese words are dictionary guesses, not the user's words
        coverage = [best_sentence_coverage(words, c.passage.text, c.document.metadata.title) for c in head]
        scores += weights.sentence_weight * np.array(coverage, dtype=np.float32)
    elif title_cosines:
        scores += weights.title_weight * title_standing(title_cosines, head, weights.title_full_at)
    if use_preferences:
        scores += np.array([preference_bonus(analysis, c.document, weights, c.passage.text) for c in head], dtype=np.float32)
    if cross_encoder is not None:
        relevance = np.asarray(cross_encoder(analysis.text, [c.passage.text for c in head]), dtype=np.float32)
        low, high = float(relevance.min()), float(relevance.max())
        if high > low:
            scores += weights.cross_encoder_weight * (relevance - low) / (high - low)
    order = np.argsort(-scores, kind="stable")
    ranked = [(head[i].pid, float(scores[i])) for i in order]
    # Everything below the head scored lower in the first stage; it stays below, in its order.
    floor = min(score for _, score in ranked)
    ranked += [(c.pid, min(c.score, floor)) for c in tail]
    return ranked
