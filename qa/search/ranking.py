"""Every weight and depth the ranking uses, in one place, each with its reason and the evaluation that chose it.

A search service takes a `RankingConfig` (`DEFAULT_RANKING` unless told otherwise) and hands each step
of retrieval (qa.search.retrieval) its section; no other module holds a tuned number. Change a value
only with the evaluations its field names run before and after, and keep the change only when it also
holds on the archive set it was not chosen on (archive_dev2_questions.jsonl beside archive_dev_questions.jsonl);
docs/evaluation.md records what was measured and dropped. `explained()` lists every value.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

# The evaluations a value is justified by (the sets and the judging rule: docs/evaluation.md).
SEEDS = "speechqa eval ../shared/eval/dev_questions.jsonl --data /tmp/seeds --mode all"
ARCHIVE = "speechqa eval ../shared/eval/archive_dev_questions.jsonl --data ~/speechqa-archive/data --mode all"
ARCHIVE_2 = "speechqa eval ../shared/eval/archive_dev2_questions.jsonl --data ~/speechqa-archive/data --mode all"
ENGLISH_CHECK = "speechqa eval docs/archive_english_check.jsonl --data ~/speechqa-archive/data --mode all"
CHINESE_CHECK = "speechqa eval docs/archive_chinese_check.jsonl --data ~/speechqa-archive/data --mode all"
WITH_RERANKER = ARCHIVE + " --reranker NAME_OR_PATH"
# What a bound on work is checked by: its latency, with the figures of the evaluations unchanged.
LATENCY = "scripts/bench.py --api-collection ~/speechqa-archive/data --requests 40 --runs 3"


def tuned(value: Any, reason: str, *evaluations: str) -> Any:
    """A field of the configuration: its default, why it is what it is, and the commands that measured it."""
    return field(default=value, metadata={"reason": reason, "evaluations": evaluations})


@dataclass(frozen=True)
class Depths:
    """How many passages each step looks at."""

    candidates: int = tuned(100, "each index's list is at least this long, so fusion sees what either side is "
                                 "sure of even for a small k", ARCHIVE, SEEDS)
    candidates_per_hit: int = tuned(4, "and at least this many a hit asked for, so a large k still draws from "
                                       "a list several times its size", ARCHIVE)
    hits_per_hit: int = tuned(2, "the top k are cut from this many ranked passages a hit, so collapsing "
                                 "near-identical ones (templated releases) still leaves k", ARCHIVE)
    hits_extra: int = tuned(10, "plus this many, for a small k whose few hits may all be copies of one text",
                            ARCHIVE)

    def candidate_depth(self, k: int) -> int:
        """How many candidates each index is asked for when k hits are wanted."""
        return max(self.candidates, self.candidates_per_hit * k)

    def hit_window(self, k: int) -> int:
        """How many ranked passages the top k are drawn from."""
        return self.hits_per_hit * k + self.hits_extra


@dataclass(frozen=True)
class FusionWeights:
    """How a candidate's cosine and BM25 make its first-stage score (qa.search.fusion)."""

    dense_weight: float = tuned(0.6, "the dense side is the surer once passages are scored by their best "
                                    "sentence, for Chinese and English questions alike (a share for English "
                                    "questions alone, chosen on either archive set, lowers the other)",
                                ARCHIVE, ARCHIVE_2, CHINESE_CHECK)
    clause_weight: float = tuned(0.3, "a question of several clauses mixes in the mean of its clauses' best "
                                     "sentences: in the middle of the shares that help", ARCHIVE, CHINESE_CHECK)
    rendering_share: float = tuned(0.5, "an English question's dense evidence is the mean of its own and its "
                                        "Chinese rendering's: the two readings count alike, not a share tuned on "
                                        "either archive set (the shares around it measured on both: "
                                        "docs/evaluation.md)", ARCHIVE, ARCHIVE_2, ENGLISH_CHECK)


@dataclass(frozen=True)
class SecondStageWeights:
    """The rescoring of the first fused candidates with finer evidence (qa.search.rerank)."""

    depth: int = tuned(50, "the fused candidates rescored (and given to a cross-encoder), and the depth of "
                           "each named period's own candidate list", ARCHIVE, LATENCY)
    sentence_weight: float = tuned(0.4, "rarity-weighted share of the query's words in the passage's best "
                                       "sentence: an answer is usually one sentence", ARCHIVE, SEEDS)
    title_weight: float = tuned(0.3, "an English question's cosine with a document title that stands out "
                                    "among the candidates' titles", ARCHIVE, ENGLISH_CHECK)
    title_full_at: float = tuned(1.0, "standard deviations above the candidates' mean title cosine that earn "
                                      "the whole title bonus", ARCHIVE, ENGLISH_CHECK)
    date_weight: float = tuned(0.35, "a soft bonus for a document dated in a year or month the query names, "
                                    "or a passage stating the month: never a filter; the middle of the shares "
                                    "that set 1 ranks best, and a gain on set 2 (docs/evaluation.md)",
                               ARCHIVE, ARCHIVE_2, ENGLISH_CHECK)
    speaker_weight: float = tuned(0.1, "a soft bonus for a document whose speaker the query names", ARCHIVE)
    cross_encoder_weight: float = tuned(1.0, "a configured cross-encoder's relevance, scaled 0..1, counts as much "
                                             "as the whole fused range; none is configured by default, so it "
                                             "is unmeasured", WITH_RERANKER)


@dataclass(frozen=True)
class CollapseRule:
    """When two hits say the same thing (repeated scrapes, a reused paragraph) and are shown as one."""

    shared_grams: float = tuned(0.8, "share of the shorter passage's distinct character 4-grams the other "
                                     "holds", ARCHIVE)
    comparable_length: float = tuned(0.5, "the shorter is at least this share of the longer: a sentence "
                                          "quoted in a long passage is not a copy of it", ARCHIVE)


@dataclass(frozen=True)
class Translation:
    """How an English question is put into Chinese words for BM25 (qa.search.crosslingual).

    These shape dictionary tables built once a process, so every service shares `DEFAULT_RANKING`'s.
    """

    gloss_words: int = tuned(3, "a dictionary gloss of at most this many content words is a translation; "
                                "longer ones are definitions", ENGLISH_CHECK, ARCHIVE)
    per_key: int = tuned(4, "Chinese words kept for one English word, pair or name (two: noise)",
                         ENGLISH_CHECK, ARCHIVE)
    name_words: int = tuned(5, "the longest name looked up, in words",
                            ENGLISH_CHECK)
    characters_per_syllable: int = tuned(24, "a pinyin given name's characters are sought among each "
                                             "syllable's commonest ones", ENGLISH_CHECK)
    pinyin_tries: int = tuned(8, "pairs of capitalised words a query reads as pinyin names, so a long "
                                 "title-cased text stays cheap", LATENCY, ENGLISH_CHECK)
    pinyin_names: int = tuned(1, "spellings kept for a pinyin name: homophones are many, the person is one",
                              ENGLISH_CHECK)


@dataclass(frozen=True)
class ClauseRule:
    """Which pieces of a question are clauses, each embedded and met by its own best sentence (qa.search.query)."""

    min_chars: int = tuned(4, "a piece between clause punctuation shorter than this (是吗, and) is no clause",
                           ARCHIVE, SEEDS)
    most: int = tuned(8, "clauses embedded, the longest: each costs a model run, and a pasted page has many",
                      LATENCY)


@dataclass(frozen=True)
class RankingConfig:
    """Every tuned number of retrieval; each step takes its section."""

    depths: Depths = field(default_factory=Depths)
    clauses: ClauseRule = field(default_factory=ClauseRule)
    fusion: FusionWeights = field(default_factory=FusionWeights)
    second_stage: SecondStageWeights = field(default_factory=SecondStageWeights)
    collapse: CollapseRule = field(default_factory=CollapseRule)
    query_window_chars: int = tuned(350, "a pasted text longer than the model reads is embedded in windows of "
                                         "whole sentences up to this long, and their vectors averaged", SEEDS, ARCHIVE)
    translation: Translation = field(default_factory=Translation)


DEFAULT_RANKING = RankingConfig()


def explained(config: RankingConfig = DEFAULT_RANKING) -> list[tuple[str, Any, str, tuple[str, ...]]]:
    """(dotted name, value, reason, evaluations) of every tuned number, in declaration order."""
    rows: list[tuple[str, Any, str, tuple[str, ...]]] = []

    def walk(section: Any, prefix: str) -> None:
        for item in fields(section):
            value = getattr(section, item.name)
            if is_dataclass(value):
                walk(value, f"{prefix}{item.name}.")
            else:
                rows.append((prefix + item.name, value, item.metadata.get("reason", ""),
                             tuple(item.metadata.get("evaluations", ()))))

    walk(config, "")
    return rows
