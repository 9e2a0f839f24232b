"""The ranking configuration: every tuned number in one place, each with its reason and its evaluation."""

from __future__ import annotations

import ast
from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import pytest

from qa.search.ranking import DEFAULT_RANKING, Depths, RankingConfig, SecondStageWeights, explained

ROOT = Path(__file__).parents[1]
# The modules retrieval runs through: none of them may hold a tuned number of its own.
RANKING_MODULES = ("service", "retrieval", "rerank", "fusion", "query_vectors", "changes", "crosslingual", "query")
# Module-level numbers there that are not ranking knowledge, and why.
NOT_RANKING = {
    "MAX_K": "a bound on requests, not on ranking",
    "CACHE_SIZE": "memory kept for query vectors",
    "_KNOWN_WORDS_HELD": "memory kept for which dictionary words a collection holds",
    "ROC_OFFSET": "the calendar: ROC years are Gregorian minus 1911",
}


def test_every_tuned_number_says_why_and_which_evaluation_chose_it():
    rows = explained()
    assert len(rows) == len({name for name, *_ in rows}) > 20
    for name, value, reason, evaluations in rows:
        assert isinstance(value, int | float) and not isinstance(value, bool), name
        assert len(reason) > 30 and "\n" not in reason, name
        assert evaluations, name
        for command in evaluations:
            assert command.startswith(("speechqa eval ", "scripts/bench.py ")), (name, command)
            questions = command.split()[2] if command.startswith("speechqa") else None
            if questions and questions.startswith("docs/"):
                assert (ROOT / questions).is_file(), (name, questions)


def test_explained_lists_the_values_of_the_configuration_given():
    custom = replace(DEFAULT_RANKING, second_stage=replace(DEFAULT_RANKING.second_stage, title_weight=0.6))
    values = {name: value for name, value, *_ in explained(custom)}
    assert values["second_stage.title_weight"] == 0.6
    assert {name: value for name, value, *_ in explained()}["second_stage.title_weight"] == \
        DEFAULT_RANKING.second_stage.title_weight


def test_depths_grow_with_k_beyond_their_floor():
    depths = Depths(candidates=100, candidates_per_hit=4, hits_per_hit=2, hits_extra=10)
    assert [depths.candidate_depth(k) for k in (1, 25, 26, 100)] == [100, 100, 104, 400]
    assert [depths.hit_window(k) for k in (1, 10, 100)] == [12, 30, 210]


def test_the_configuration_is_a_value():
    assert RankingConfig() == DEFAULT_RANKING
    assert hash(RankingConfig()) == hash(DEFAULT_RANKING)
    with pytest.raises(FrozenInstanceError):
        DEFAULT_RANKING.second_stage.depth = 10  # type: ignore[misc]
    assert replace(DEFAULT_RANKING, second_stage=SecondStageWeights(depth=10)) != DEFAULT_RANKING


def _numbers_outside_the_configuration(module: str) -> list[str]:
    tree = ast.parse((ROOT / "qa" / "search" / f"{module}.py").read_text(encoding="utf-8"))
    found = []
    for node in tree.body:  # module-level constants
        if isinstance(node, ast.Assign | ast.AnnAssign):
            value = node.value
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if isinstance(value, ast.Constant) and type(value.value) in (int, float):
                found.extend(f"{module}.{name} = {value.value}" for name in names if name not in NOT_RANKING)
    for node in ast.walk(tree):  # weights are fractions: none may be written out but 0 and 1
        if isinstance(node, ast.Constant) and type(node.value) is float and node.value not in (0.0, 1.0):
            found.append(f"{module}.py:{node.lineno}: {node.value}")
    return found


def test_no_ranking_module_holds_a_tuned_number_of_its_own():
    assert [found for module in RANKING_MODULES for found in _numbers_outside_the_configuration(module)] == []
