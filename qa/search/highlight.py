"""Pick the sentences of a passage that best answer a query, for highlighting in results.

Sentences are split on the original passage (so offsets can be shown as-is) and compared on
a normalised copy (Simplified script, ASCII punctuation, lower case), so a Simplified query
highlights a Traditional passage.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence

from qa.text.normalize import HAN, fold_simplified_for_matching, normalize_for_matching, to_simplified
from qa.text.sentences import split_sentences

# Runs of Han characters give unigrams and bigrams; runs of Latin letters or digits give words.
_HAN_RUN = re.compile(f"[{HAN}]+")
_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")

# Function characters that appear in nearly every sentence; matching one says nothing about
# the topic, so as unigrams they carry no weight (bigrams containing them still count).
_FUNCTION_CHARS = frozenset("的了和是在有与及对为也就都而之其这那我你他她它们个把被将以于从到上中下不")

# A bigram or a whole word match is stronger evidence than a single character.
_UNIGRAM_WEIGHT = 1.0
_PHRASE_WEIGHT = 2.0
# Long sentences overlap a query by chance more often; this damps (not removes) that advantage.
_LENGTH_DAMPING = 0.3
# A second sentence is only worth showing when it answers nearly as well as the best one.
_SECOND_SPAN_RATIO = 0.6


def highlight_sentences(passage_text: str, query: str, *, max_spans: int = 2) -> list[tuple[int, int]]:
    """Offsets ``[start, end)`` into ``passage_text`` of the sentences that best match ``query``.

    Args:
        passage_text: the passage as stored (any script); offsets index into it.
        query: the user's question, Simplified or Traditional.
        max_spans: at most this many sentences are returned.

    Returns:
        The best sentence, plus others scoring at least 0.6 of it (up to ``max_spans``), in text
        order; ``[]`` when no sentence shares anything meaningful with the query.
    """
    if max_spans < 1:
        return []
    query_features = _features(_matching_query(query))
    if not query_features:
        return []
    spans = split_sentences(passage_text)
    # One script conversion for the whole passage rather than one per sentence; OpenCC keeps the
    # length (one character for one) in all but rare phrase conversions, which fall back to per sentence.
    simplified = to_simplified(passage_text)
    if len(simplified) == len(passage_text):
        sentence_features = [_features(fold_simplified_for_matching(simplified[start:end])) for start, end in spans]
    else:
        sentence_features = [_features(normalize_for_matching(passage_text[start:end])) for start, end in spans]
    scores = _score_sentences(query_features, sentence_features)
    return _select(spans, scores, max_spans)


@functools.lru_cache(maxsize=256)
def _matching_query(query: str) -> str:
    """normalize_for_matching of a query, remembered: every hit of a search is highlighted for the same query."""
    return normalize_for_matching(query)


def _features(normalized: str) -> set[str]:
    """Han unigrams and bigrams plus Latin/digit words of an already normalised string."""
    features: set[str] = set(_WORD.findall(normalized))
    for run in _HAN_RUN.findall(normalized):
        features.update(run)
        features.update(map(str.__add__, run, run[1:]))  # bigrams
    return features


def _feature_weight(feature: str) -> float:
    if len(feature) == 1 and not feature.isascii():
        return 0.0 if feature in _FUNCTION_CHARS else _UNIGRAM_WEIGHT
    return _PHRASE_WEIGHT


def _rarity(sentences: int, frequency: int) -> float:
    """IDF over the passage's own sentences (`frequency` of its `sentences` hold the term): a term in every
    sentence does not pick one out."""
    return math.log(1.0 + (sentences - frequency + 0.5) / (frequency + 0.5))


def _score_sentences(query_features: set[str], sentence_features: list[set[str]]) -> list[float]:
    matched = [features & query_features for features in sentence_features]
    # How many sentences hold each query feature, from what each one matched: one pass, not one per feature.
    frequency: dict[str, int] = {}
    for shared in matched:
        for feature in shared:
            frequency[feature] = frequency.get(feature, 0) + 1
    weights = {f: _feature_weight(f) * _rarity(len(sentence_features), n) for f, n in frequency.items()}
    average_size = sum(len(f) for f in sentence_features) / max(1, len(sentence_features))
    scores = []
    for features, shared in zip(sentence_features, matched, strict=True):
        raw = sum(weights[f] for f in shared)
        length_norm = 1.0 - _LENGTH_DAMPING + _LENGTH_DAMPING * len(features) / max(1.0, average_size)
        scores.append(raw / length_norm)
    return scores


def _select(spans: list[tuple[int, int]], scores: list[float], max_spans: int) -> list[tuple[int, int]]:
    ranked = sorted(range(len(spans)), key=lambda i: (-scores[i], i))
    if not ranked or scores[ranked[0]] <= 0.0:
        return []
    best = scores[ranked[0]]
    chosen = [i for i in ranked[:max_spans] if scores[i] >= _SECOND_SPAN_RATIO * best]
    return [spans[i] for i in sorted(chosen)]


def best_scoring_sentence(passage_text: str, spans: Sequence[tuple[int, int]],
                          scores: Sequence[float]) -> list[tuple[int, int]]:
    """The one span of ``spans`` (sentences of ``passage_text``) with the highest score, such as the
    sentence an English question's vector meets best where no word of it is in the text; ``[]`` when
    the scores are not one a span or the best span holds nothing but spaces."""
    if not spans or len(spans) != len(scores):
        return []
    best = max(range(len(spans)), key=lambda i: (scores[i], -i))
    start, end = spans[best]
    return [(start, end)] if passage_text[start:end].strip() else []
