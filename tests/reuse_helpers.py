"""A small collection with planted reuse, and the brute-force reference the reuse index is checked against (no model)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from conftest import ROOT, SEEDS

from qa.index.collection import ChunkingSettings
from qa.index.reuse_index import MIN_RUN, IndexedDocument, ReuseIndex
from qa.index.store import PassageStore
from qa.ingest.pipeline import build_document, make_passages
from qa.ingest.readers import read_path
from qa.text.fingerprints import reuse_codes
from qa.text.normalize import to_traditional
from qa.types import Document, PassageFilter, RawDocument

STORIES = ROOT / "tests" / "data" / "reuse_stories.jsonl"


@dataclass(frozen=True)
class Plant:
    """A span of one document copied into another (maybe in the other script, with its punctuation changed)."""

    source: str  # doc_id
    target: str
    text: str  # as inserted
    variant: str


def raw_documents() -> list[RawDocument]:
    """The five sample speeches and some xwlb stories (real reuse among them: a series and its template)."""
    raws = [raw for file in sorted(SEEDS.glob("*.txt")) for raw in read_path(file) if isinstance(raw, RawDocument)]
    for line in STORIES.read_text(encoding="utf-8").splitlines():
        story = json.loads(line)
        raws.append(RawDocument(text=story["text"], source=story["url"], title=story["title"], date=story["date"],
                                url=story["url"]))
    return raws


def vary(text: str, variant: str, rng: random.Random) -> str:
    """The span as a copier might have written it."""
    if variant == "traditional":
        return to_traditional(text)
    if variant == "punctuation":
        swapped = text.replace("，", ", ").replace("。", ".").replace("、", ",").replace("“", '"').replace("”", '"')
        return "".join(ch + " " if rng.random() < 0.05 else ch for ch in swapped)
    if variant == "traditional-punctuation":
        return vary(to_traditional(text), "punctuation", rng)
    return text


def planted_documents(seed: int = 23, plants: int = 14) -> tuple[list[Document], list[Plant]]:
    """Documents with spans of other documents copied into them, in all four variants.

    Spans are taken from the cleaned texts and planted into cleaned texts, which are then built again
    as ingest builds a document: each copy is checked to have come through that whole.
    """
    cleaned = [build_document(raw) for raw in raw_documents()]
    texts = [document.text for document in cleaned if isinstance(document, Document)]
    assert len(texts) == len(cleaned)
    rng = random.Random(seed)
    done: list[tuple[int, int, str, str]] = []
    variants = ["same", "traditional", "punctuation", "traditional-punctuation"]
    while len(done) < plants:
        source, target = rng.sample(range(len(texts)), 2)
        # Within one line: copies go in between lines, so a later copy never splits an earlier span.
        line = rng.choice(texts[source].split("\n"))
        length = rng.randrange(MIN_RUN + 10, 4 * MIN_RUN)
        start = rng.randrange(0, max(1, len(line) - length))
        span = line[start : start + length].strip()
        if len(reuse_codes(span)) < MIN_RUN + 5:
            continue
        variant = variants[len(done) % len(variants)]
        copy = vary(span, variant, rng)
        lines = texts[target].split("\n")
        at = rng.randrange(len(lines) + 1)
        texts[target] = "\n".join([*lines[:at], copy, *lines[at:]])
        done.append((source, target, copy, variant))
    documents = []
    for original, text in zip(cleaned, texts, strict=True):
        assert isinstance(original, Document)
        meta = original.metadata
        built = build_document(RawDocument(text=text, source=original.sources[0], title=meta.title, date=meta.date))
        assert isinstance(built, Document)
        documents.append(built)
    for source, target, copy, _ in done:
        for holder in (source, target):
            assert reuse_codes(copy).tobytes() in reuse_codes(documents[holder].text).tobytes(), copy
    ids = [d.doc_id for d in documents]
    return documents, [Plant(ids[source], ids[target], copy, variant) for source, target, copy, variant in done]


def fill_store(path: Path, documents: list[Document]) -> PassageStore:
    store = PassageStore(path)
    store.add_documents([(d, make_passages(d.doc_id, d.text, ChunkingSettings()), None) for d in documents], {}, "none")
    return store


def indexed(store: PassageStore, doc_ids: list[str] | None = None) -> list[IndexedDocument]:
    """What the reuse index reads of these stored documents (all when None)."""
    chosen = store.all_document_ids() if doc_ids is None else doc_ids
    out = []
    for document in store.get_documents(chosen, with_text=True).values():
        pids = store.filtered_pids(PassageFilter(doc_ids=(document.doc_id,)))
        out.append(IndexedDocument(document.doc_id, document.text, int(pids[0]), int(pids[-1])))
    return out


class StoreReuseSource:
    """qa.index.reuse_index.ReuseSource over a store's public reads."""

    def __init__(self, store: PassageStore) -> None:
        self.store = store
        self.version = store.version

    def changes_since(self, version: int):
        return self.store.changes_since(version)

    def indexed_documents(self, pids=None):
        if pids is None:
            return iter(indexed(self.store))
        doc_ids = sorted({p.doc_id for p in self.store.passages_by_pid([int(p) for p in pids]).values()})
        return iter(indexed(self.store, doc_ids))


class StoreReuseView:
    """qa.search.reuse.ReuseView over a store and a reuse index."""

    def __init__(self, store: PassageStore, index: ReuseIndex) -> None:
        self.store = store
        self.reuse = index.reader()

    def passage_of_chunk(self, chunk_id: str):
        pid = self.store.pid_of_chunk(chunk_id)
        return None if pid is None else self.store.passages_by_pid([pid]).get(pid)

    def filtered_pids(self, where):
        return self.store.filtered_pids(where)

    def documents(self, doc_ids):
        return self.store.get_documents(doc_ids)

    def documents_with_text(self, doc_ids):
        return self.store.get_documents(doc_ids, with_text=True)

    def passages_of(self, doc_id):
        return self.store.passages_of(doc_id)


def run_grams(codes: np.ndarray) -> set[bytes]:
    """Every run of MIN_RUN codes, as bytes: two texts share a run that long exactly when these sets meet."""
    raw = np.ascontiguousarray(codes, dtype=np.uint32).tobytes()
    width = 4 * MIN_RUN
    return {raw[4 * i : 4 * i + width] for i in range(len(codes) - MIN_RUN + 1)}


def longest_common_run(a: np.ndarray, b: np.ndarray) -> int:
    """Longest common substring of two code arrays, by dynamic programming over one row at a time."""
    best = 0
    previous = np.zeros(len(b) + 1, dtype=np.int32)
    for x in a:
        current = np.zeros(len(b) + 1, dtype=np.int32)
        same = b == x
        current[1:][same] = previous[:-1][same] + 1
        best = max(best, int(current.max()))
        previous = current
    return best


def as_raw(document: Document) -> RawDocument:
    """A built document as a reader would hand it to ingest again."""
    meta = document.metadata
    return RawDocument(text=document.text, source=document.sources[0], title=meta.title, date=meta.date)
