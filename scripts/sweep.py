"""Evaluate one ranking value at several settings, each question file apart: the honest-tuning table.

    scripts/sweep.py fusion.rendering_share 0 0.3 0.5 0.7 1 --data ~/speechqa-archive/data-v4 \
        --questions ../shared/eval/archive_dev_questions.jsonl ../shared/eval/archive_dev2_questions.jsonl

prints, for each setting, each file's hybrid recall@5 / MRR@10 and those of each question type. Choose a
setting on one file, quote it on the other (docs/evaluation.md, "Tuning honestly"). The field is a dotted
name of qa.search.ranking.RankingConfig (`speechqa` lists none of them; `explained()` does). The
translation section shapes tables built once a process, so it cannot be swept here.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.app import open_service  # noqa: E402
from qa.search.evaluate import evaluate_sets, load_questions  # noqa: E402
from qa.search.ranking import DEFAULT_RANKING, RankingConfig  # noqa: E402
from qa.settings import Settings  # noqa: E402


def with_value(config: Any, dotted: str, value: float) -> Any:
    """`config` with the field at the dotted path set to `value` (of the field's own type)."""
    head, _, rest = dotted.partition(".")
    names = [item.name for item in fields(config)]
    if head not in names:
        raise SystemExit(f"{type(config).__name__} has no field {head!r}; it has {', '.join(names)}")
    current = getattr(config, head)
    if rest:
        if not is_dataclass(current):
            raise SystemExit(f"{head} is a value, not a section: name it without {rest!r}")
        return replace(config, **{head: with_value(current, rest, value)})
    if is_dataclass(current):
        raise SystemExit(f"{head} is a section: name one of its fields, e.g. {head}.{fields(current)[0].name}")
    return replace(config, **{head: type(current)(value)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("field", help="dotted name in RankingConfig, e.g. fusion.dense_weight")
    parser.add_argument("values", nargs="+", type=float)
    parser.add_argument("--data", type=Path, required=True, help="collection directory")
    parser.add_argument("--questions", type=Path, nargs="+", required=True, help="question files")
    args = parser.parse_args(argv)
    if args.field.startswith("translation"):
        parser.error("the translation section is read once a process: it cannot be swept")
    service = open_service(Settings.from_env(data_dir=args.data))
    sets = {path.name: load_questions(path) for path in args.questions}
    for value in args.values:
        config: RankingConfig = with_value(DEFAULT_RANKING, args.field, value)
        service.ranking = config
        reports, _ = evaluate_sets(service, sets, k=10, mode="hybrid")
        cells = []
        for name, report in reports.items():
            types = " ".join(f"{kind} {row['recall@5']:.2f}/{row['mrr@10']:.2f}"
                             for kind, row in sorted(report["by_type"].items()))
            overall = report["overall"]
            cells.append(f"{name}: {overall['recall@5']:.3f}/{overall['mrr@10']:.3f} ({types})")
        print(f"{args.field}={value:g}  " + "  |  ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
