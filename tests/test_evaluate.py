"""qa/search/evaluate.py: the judging rule behind every figure the README reports (docs/evaluation.md)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from qa.errors import BadInputError
from qa.search.evaluate import (
    JUDGED_PREFIX_CHARS,
    Question,
    answers,
    evaluate,
    evaluate_sets,
    judge_normalise,
    load_questions,
)

SAMPLES = Path(__file__).parents[1] / "qa" / "sample_speeches"


def sample_line(prefix: str, number: int) -> str:
    return next(SAMPLES.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8").split("\n")[number]


# --------------------------------------------------------------------------- normalisation


def test_pinyin_annotations_are_removed_and_traditional_becomes_simplified():
    assert sample_line("002", 0) == "在縣委工作會(huì)上的發(fā)言稿"
    assert judge_normalise(sample_line("002", 0)) == "在县委工作会上的发言稿"


def test_full_width_punctuation_becomes_ascii_and_whitespace_goes():
    assert judge_normalise("“雙過半”目標，增長 １０％：（一）；\n\t 完成") == '"双过半"目标,增长１０%:(一);完成'


def test_only_pinyin_shaped_brackets_are_removed():
    # Up to seven Latin letters (tone marks or not) in brackets; longer words and other brackets stay.
    assert judge_normalise("會(hui)議（huì）(Shanghai)(a1)") == "会议(Shanghai)(a1)"
    assert judge_normalise("會(abcdefgh)") == "会(abcdefgh)"


# --------------------------------------------------------------------------- the span rule


def test_a_passage_answers_when_a_normalised_gold_span_is_inside_it():
    passage = sample_line("002", 2)  # 一、準(zhǔn)確研判形勢(shì),切實(shí)強(qiáng)化舉措,全力實(shí)現(xiàn)“雙過半”目標(biāo)
    assert answers(passage, ["全力实现“双过半”目标"])
    assert answers(passage, ["no such span", "准确研判 形势"])
    assert not answers(passage, ["全力实现双过半目标"])  # the quotation marks are kept, only widened
    assert not answers(passage, [])


def test_only_the_first_800_characters_are_judged():
    assert JUDGED_PREFIX_CHARS == 800
    filler = "。" * (JUDGED_PREFIX_CHARS - 4)
    assert answers(filler + "目标任务" + "后文", ["目标任务"])  # ends at character 800
    assert not answers(filler + "。目标任务", ["目标任务"])  # ends at character 801
    # The cut is made before normalising: pinyin inside the first 800 characters still uses up room.
    assert len("會(huì)" * 133) == 798 and len(judge_normalise("會(huì)" * 133)) == 133
    assert not answers("會(huì)" * 133 + "目标任务", ["目标任务"])
    assert answers("會(huì)" * 132 + "目标任务", ["目标任务"])


# --------------------------------------------------------------------------- metrics over a fake service


class CannedService:
    """Answers each query with passages in the order given; records the requests."""

    def __init__(self, results: dict[str, list[str]]) -> None:
        self.results = results
        self.requests: list = []
        self.warmed = False

    def warm_up(self) -> None:
        self.warmed = True

    def search(self, request):
        self.requests.append(request)
        texts = self.results[request.query]
        return SimpleNamespace(hits=[SimpleNamespace(rank=rank, passage=SimpleNamespace(text=text))
                                     for rank, text in enumerate(texts, start=1)])


def ranked(rank: int | None, span: str, depth: int = 10) -> list[str]:
    """`depth` passages; the one at `rank` (1-based) holds the span."""
    return [span if i == rank else f"无关段落{i}" for i in range(1, depth + 1)]


QUESTIONS = [
    Question("q1", "factoid", "问一", ("答案甲",)),
    Question("q2", "factoid", "问二", ("答案乙",)),
    Question("q3", "paraphrase", "问三", ("答案丙",)),
    Question("q4", "paraphrase", "问四", ("答案丁", "答案戊")),
]
SERVICE_RESULTS = {
    "问一": ranked(1, "答案甲"),
    "问二": ranked(3, "……答案乙……"),
    "问三": ranked(None, "答案丙"),
    "问四": ranked(7, "答案戊") + ["答案丁"],  # the first answering passage counts, not the first gold span
}


def test_recall_and_mrr_follow_from_the_first_answering_rank():
    service = CannedService(SERVICE_RESULTS)
    report = evaluate(service, QUESTIONS, k=10, mode="dense")
    assert service.warmed
    assert [(r.query, r.k, r.mode) for r in service.requests] == [(q.query, 10, "dense") for q in QUESTIONS]
    assert report["questions"] == [{"id": "q1", "type": "factoid", "rank": 1}, {"id": "q2", "type": "factoid", "rank": 3},
                                   {"id": "q3", "type": "paraphrase", "rank": None},
                                   {"id": "q4", "type": "paraphrase", "rank": 7}]
    assert report["overall"] == {"recall@1": 0.25, "recall@5": 0.5, "recall@10": 0.75,
                                 "mrr@10": round((1 + 1 / 3 + 1 / 7) / 4, 4), "n": 4}
    assert report["by_type"] == {
        "factoid": {"recall@1": 0.5, "recall@5": 1.0, "recall@10": 1.0, "mrr@10": round((1 + 1 / 3) / 2, 4), "n": 2},
        "paraphrase": {"recall@1": 0.0, "recall@5": 0.0, "recall@10": 0.5, "mrr@10": round(1 / 7 / 2, 4), "n": 2},
    }
    assert (report["mode"], report["k"], sorted(report["latency_ms"])) == ("dense", 10, ["p50", "p95"])


def test_cut_offs_follow_k():
    deep = {"问一": ranked(12, "答案甲", depth=20)}
    assert evaluate(CannedService(deep), QUESTIONS[:1], k=20)["overall"] == {
        "recall@1": 0.0, "recall@5": 0.0, "recall@10": 0.0, "recall@20": 1.0, "mrr@10": 0.0, "n": 1}
    assert evaluate(CannedService(SERVICE_RESULTS), QUESTIONS[:2], k=5)["overall"] == {
        "recall@1": 0.5, "recall@5": 1.0, "mrr@10": round((1 + 1 / 3) / 2, 4), "n": 2}


def test_a_transform_changes_the_query_sent():
    service = CannedService({"问一?": ranked(2, "答案甲")})
    report = evaluate(service, QUESTIONS[:1], transform=lambda query: query + "?")
    assert [r.query for r in service.requests] == ["问一?"] and report["questions"][0]["rank"] == 2


def test_several_sets_are_reported_each_and_pooled_over_their_questions():
    second = [Question("q1", "english", "问五", ("答案己",))]  # an id the first set uses too
    service = CannedService({**SERVICE_RESULTS, "问五": ranked(2, "答案己")})
    reports, pooled = evaluate_sets(service, {"a.jsonl": QUESTIONS, "b.jsonl": second}, k=10, mode="lexical")
    assert service.warmed
    assert list(reports) == ["a.jsonl", "b.jsonl"]
    assert {key: value for key, value in reports["a.jsonl"].items() if key != "latency_ms"} == {
        key: value for key, value in evaluate(CannedService(SERVICE_RESULTS), QUESTIONS, mode="lexical").items()
        if key != "latency_ms"}
    assert reports["b.jsonl"]["overall"] == {"recall@1": 0.0, "recall@5": 1.0, "recall@10": 1.0, "mrr@10": 0.5, "n": 1}
    # Pooled over the five questions, not the mean of the two sets' figures.
    assert pooled["overall"] == {"recall@1": 0.2, "recall@5": 0.6, "recall@10": 0.8,
                                 "mrr@10": round((1 + 1 / 3 + 1 / 7 + 1 / 2) / 5, 4), "n": 5}
    assert sorted(pooled["by_type"]) == ["english", "factoid", "paraphrase"]
    assert pooled["questions"][-2:] == [{"id": "q4", "type": "paraphrase", "rank": 7, "set": "a.jsonl"},
                                        {"id": "q1", "type": "english", "rank": 2, "set": "b.jsonl"}]
    assert (pooled["mode"], pooled["k"], sorted(pooled["latency_ms"])) == ("lexical", 10, ["p50", "p95"])


def test_the_eval_command_prints_each_file_then_the_pooled_figures(tmp_path: Path, monkeypatch):
    from typer.testing import CliRunner

    import qa.cli

    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text('{"id": "q1", "type": "factoid", "query": "问一", "gold": ["答案甲"]}\n', encoding="utf-8")
    second.write_text('{"id": "q2", "type": "english", "query": "问二", "gold": ["答案乙"]}\n', encoding="utf-8")
    monkeypatch.setattr(qa.cli, "open_service", lambda settings: CannedService(SERVICE_RESULTS))
    runner = CliRunner()
    text = runner.invoke(qa.cli.app, ["eval", str(first), str(second), "--data", str(tmp_path)])
    assert text.exit_code == 0, text.output
    lines = [line.split("  p50=")[0] for line in text.output.splitlines()]
    assert lines == [
        f"[{first}]", "mode=hybrid  n=1  recall@1=1.0  recall@5=1.0  recall@10=1.0  mrr@10=1.0",
        "    factoid      recall@1=1.0  recall@5=1.0  recall@10=1.0  mrr@10=1.0  n=1",
        f"[{second}]", "mode=hybrid  n=1  recall@1=0.0  recall@5=1.0  recall@10=1.0  mrr@10=0.3333",
        "    english      recall@1=0.0  recall@5=1.0  recall@10=1.0  mrr@10=0.3333  n=1",
        "[pooled: 2 files]", "mode=hybrid  n=2  recall@1=0.5  recall@5=1.0  recall@10=1.0  mrr@10=0.6667",
        "    english      recall@1=0.0  recall@5=1.0  recall@10=1.0  mrr@10=0.3333  n=1",
        "    factoid      recall@1=1.0  recall@5=1.0  recall@10=1.0  mrr@10=1.0  n=1",
    ]
    as_json = runner.invoke(qa.cli.app, ["eval", str(first), str(second), "--json", "--mode", "lexical", "--data", str(tmp_path)])
    objects = [json.loads(line) for line in as_json.output.splitlines()]
    assert [(o.get("file"), o.get("files"), o["mode"], o["overall"]["n"]) for o in objects] == [
        (str(first), None, "lexical", 1), (str(second), None, "lexical", 1), (None, [str(first), str(second)], "lexical", 2)]
    single = runner.invoke(qa.cli.app, ["eval", str(first), "--json", "--data", str(tmp_path)])
    assert [sorted(json.loads(line)) for line in single.output.splitlines()] == [
        ["by_type", "k", "latency_ms", "mode", "overall", "questions"]]  # one file: the report as before, no file key


# --------------------------------------------------------------------------- the questions file


def test_questions_are_read_one_json_object_a_line(tmp_path: Path):
    path = tmp_path / "q.jsonl"
    path.write_text('{"id": 7, "query": "问", "gold": ["甲", "乙"], "type": "english", "doc": "001"}\n\n'
                    '{"id": "b", "query": "问二", "gold": ["丙"]}\n', encoding="utf-8")
    assert load_questions(path) == [Question("7", "english", "问", ("甲", "乙"), "001"), Question("b", "all", "问二", ("丙",), "")]


@pytest.mark.parametrize(("content", "message"), [
    ('{"id": 1, "query": "问"}\n', ":1: each line must be a JSON object with id, query and gold ('gold')"),
    ('{"id": 1, "query": "问", "gold": ["甲"]}\nnot json\n',
     ":2: each line must be a JSON object with id, query and gold (Expecting value: line 1 column 1 (char 0))"),
    ("\n  \n", " holds no questions"),
])
def test_a_bad_questions_file_is_a_bad_input_error_naming_the_line(tmp_path: Path, content: str, message: str):
    path = tmp_path / "q.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(BadInputError) as raised:
        load_questions(path)
    assert str(raised.value) == f"{path}{message}"


def test_a_missing_questions_file_is_a_bad_input_error(tmp_path: Path):
    with pytest.raises(BadInputError, match="cannot read questions file .*missing.jsonl: No such file or directory"):
        load_questions(tmp_path / "missing.jsonl")
