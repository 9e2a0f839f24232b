"""The judging rule (docs/evaluation.md): recall@1/5/10 and MRR@10, overall and per question type."""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from qa.errors import BadInputError
from qa.search.service import SearchRequest, SearchService
from qa.text.normalize import to_simplified

JUDGED_PREFIX_CHARS = 800
_PINYIN = re.compile(r"[(（][a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]{1,7}[)）]", re.IGNORECASE)
_WIDTH = str.maketrans({"“": '"', "”": '"', "，": ",", "：": ":", "；": ";", "（": "(", "）": ")", "％": "%"})
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    query: str
    gold: tuple[str, ...]
    doc: str = ""


def judge_normalise(text: str) -> str:
    """The normalisation both passage and gold span go through before the substring test."""
    return _SPACE.sub("", to_simplified(_PINYIN.sub("", text)).translate(_WIDTH))


def answers(passage_text: str, gold: Sequence[str]) -> bool:
    judged = judge_normalise(passage_text[:JUDGED_PREFIX_CHARS])
    return any(judge_normalise(span) in judged for span in gold)


def load_questions(path: Path) -> list[Question]:
    questions = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadInputError(f"cannot read questions file {path}: {exc.strerror}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            questions.append(Question(str(record["id"]), str(record.get("type", "all")), record["query"],
                                      tuple(record["gold"]), str(record.get("doc", ""))))
        except (ValueError, KeyError, TypeError) as exc:
            raise BadInputError(f"{path}:{number}: each line must be a JSON object with id, query and gold ({exc})") from None
    if not questions:
        raise BadInputError(f"{path} holds no questions")
    return questions


def _metrics(ranks: list[int | None], k: int) -> dict:
    n = len(ranks)
    out = {f"recall@{cut}": round(sum(1 for r in ranks if r is not None and r <= cut) / n, 4) for cut in (1, 5, 10) if cut <= k}
    if k > 10:
        out[f"recall@{k}"] = round(sum(1 for r in ranks if r is not None and r <= k) / n, 4)
    out["mrr@10"] = round(sum(1.0 / r for r in ranks if r is not None and r <= 10) / n, 4)
    out["n"] = n
    return out


def _judge(service: SearchService, questions: Sequence[Question], *, k: int, mode: str,
           transform: Callable[[str], str] | None) -> tuple[list[int | None], list[float]]:
    """Each question's first answering rank (None when none of the top k answers) and its latency in ms."""
    ranks: list[int | None] = []
    latencies: list[float] = []
    for question in questions:
        query = transform(question.query) if transform else question.query
        started = time.perf_counter()
        result = service.search(SearchRequest(query=query, k=k, mode=mode))
        latencies.append((time.perf_counter() - started) * 1000)
        ranks.append(next((hit.rank for hit in result.hits if answers(hit.passage.text, question.gold)), None))
    return ranks, latencies


def _report(questions: Sequence[Question], ranks: list[int | None], latencies: list[float], *, k: int, mode: str) -> dict:
    types = sorted({q.type for q in questions})
    ordered = sorted(latencies)
    return {
        "mode": mode,
        "k": k,
        "overall": _metrics(ranks, k),
        "by_type": {t: _metrics([r for r, q in zip(ranks, questions, strict=True) if q.type == t], k) for t in types},
        "latency_ms": {
            "p50": round(statistics.median(latencies), 2),
            "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 2),
        },
        "questions": [{"id": q.id, "type": q.type, "rank": r} for q, r in zip(questions, ranks, strict=True)],
    }


def evaluate(service: SearchService, questions: Sequence[Question], *, k: int = 10, mode: str = "hybrid",
             transform: Callable[[str], str] | None = None) -> dict:
    """Run every question, judge its top k, and report the metrics with latency."""
    service.warm_up()  # latency is measured on a warm service, as the server runs
    ranks, latencies = _judge(service, questions, k=k, mode=mode, transform=transform)
    return _report(questions, ranks, latencies, k=k, mode=mode)


def evaluate_sets(service: SearchService, sets: Mapping[str, Sequence[Question]], *, k: int = 10, mode: str = "hybrid",
                  transform: Callable[[str], str] | None = None) -> tuple[dict[str, dict], dict]:
    """`evaluate` for each named question set, and the report of all their questions pooled.

    Pooled figures are over questions, not an average of the sets' figures: a set of 60 weighs more
    than one of 48. A pooled question's entry names its set, as ids may repeat across sets.
    """
    service.warm_up()
    reports: dict[str, dict] = {}
    pooled_questions: list[Question] = []
    pooled_ranks: list[int | None] = []
    pooled_latencies: list[float] = []
    names: list[str] = []
    for name, questions in sets.items():
        ranks, latencies = _judge(service, questions, k=k, mode=mode, transform=transform)
        reports[name] = _report(questions, ranks, latencies, k=k, mode=mode)
        pooled_questions.extend(questions)
        pooled_ranks.extend(ranks)
        pooled_latencies.extend(latencies)
        names.extend([name] * len(questions))
    pooled = _report(pooled_questions, pooled_ranks, pooled_latencies, k=k, mode=mode)
    for entry, name in zip(pooled["questions"], names, strict=True):
        entry["set"] = name
    return reports, pooled
