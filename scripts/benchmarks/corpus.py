"""What the benchmarks read: the xwlb stories of the shared corpus, the passages ingest cuts from them, queries.

The corpus is ../shared/corpus next to the checkout (see its README), or the folder given by --corpus or
SPEECHQA_CORPUS; the benchmarks read its xwlb/stories.jsonl.gz.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.types import RawDocument

ROOT = Path(__file__).resolve().parents[2]
STORIES_IN_CORPUS = Path("xwlb") / "stories.jsonl.gz"
# Bench collections are built from the first stories (ingest --limit N); queries and probe speeches come
# from the stories after this many, so that none of them is the text of a stored passage.
FRESH_FROM = 60_000
DEV_QUESTIONS = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"
QUERIES = [
    "招商引资进度为什么落后", "县经商局要协调调度哪些生产要素", "深入开展平安创建活动", "如何加快工业发展",
    "固定资产投资统计口径是怎么调整的", "驻企干部应该遵循什么工作原则", "乡村振兴战略", "疫情防控和经济社会发展",
    "高质量发展", "What should companies do about saving energy?", "創建市級、國家高新區", "对工作推进不力的单位要通报批评",
    "生态环境保护", "科技创新", "中央经济工作会议", "脱贫攻坚",
]


class BenchError(Exception):
    """A benchmark cannot run as asked (no corpus, too few stories); scripts/bench.py prints it as `error: ...`."""


def default_corpus() -> Path:
    given = os.environ.get("SPEECHQA_CORPUS")
    return Path(given) if given else ROOT.parent / "shared" / "corpus"


def stories_file(corpus: Path) -> Path:
    """The xwlb stories of `corpus`, or a BenchError saying where they were looked for and how to point elsewhere."""
    path = corpus / STORIES_IN_CORPUS
    if not path.is_file():
        raise BenchError(f"no xwlb stories at {path}: pass --corpus DIR, a folder holding {STORIES_IN_CORPUS} "
                         "(default ../shared/corpus next to the checkout), or set SPEECHQA_CORPUS")
    return path


def stories(path: Path, n: int | None = None, start: int = 0) -> Iterator[RawDocument]:
    """Stories start .. start + n of the file as ingest reads them; records the reader rejects are not counted."""
    from qa.ingest.readers import read_path
    from qa.types import RawDocument

    documents = (record for record in read_path(path) if isinstance(record, RawDocument))
    return itertools.islice(documents, start, None if n is None else start + n)


def story_lines(path: Path, n: int | None = None, start: int = 0) -> Iterator[str]:
    """Lines start .. start + n of the stories file as they are (a JSON record each), without parsing the HTML."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        yield from itertools.islice(lines, start, None if n is None else start + n)


def story_passages(path: Path, n: int) -> list[str]:
    """The passages ingest cuts from the first n stories (cleaned, then chunked)."""
    from qa.ingest.chunking import chunk_text
    from qa.ingest.cleaning import clean_text

    return [chunk.text for record in stories(path, n) for chunk in chunk_text(clean_text(record.text))]


def distinct_queries(path: Path, n: int, fresh_from: int = FRESH_FROM) -> list[str]:
    """n distinct realistic queries: the fixed list, the dev questions, then headlines of stories after `fresh_from`.

    None repeats, so every request pays the full cost of a search.
    """
    seen = dict.fromkeys(QUERIES)
    if DEV_QUESTIONS.exists():
        lines = DEV_QUESTIONS.read_text(encoding="utf-8").splitlines()
        seen.update(dict.fromkeys(json.loads(line)["query"] for line in lines if line.strip()))
    for line in story_lines(path, start=fresh_from):
        if len(seen) >= n:
            break
        title = re.sub(r"^(\[[^]]*\]|【[^】]*】)+", "", json.loads(line).get("title") or "").strip()
        if len(title) >= 6:
            seen.setdefault(title)
    return list(seen)[:n]


def probe_speeches(path: Path, n: int, fresh_from: int = FRESH_FROM, seed: int = 12) -> list[tuple[str, str]]:
    """Up to n new speeches (name, text) of 12 sentences drawn from several stories after `fresh_from`.

    None repeats a stored document or another probe. Its first line holds a number no other text has
    (the stories it draws on may be stored, and a copy of one of their passages would be folded into the
    stored one's hit): that number is what to search for.
    """
    sentences: list[str] = []
    for record in stories(path, start=fresh_from):
        sentences.extend(s.strip() for s in re.split(r"(?<=[。！？])", record.text) if 20 <= len(s.strip()) <= 120)
        if len(sentences) >= 12 * n:
            break
    random.Random(seed).shuffle(sentences)
    return [(f"probe-{i:04d}.txt", f"变化测试讲话 编号{9_100_000 + i}\n" + "".join(sentences[i * 12 : i * 12 + 12]))
            for i in range(min(n, len(sentences) // 12))]
