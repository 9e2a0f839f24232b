"""`speechqa ingest --ray`: read and prepare on a Ray cluster's CPUs, embed in a pool of encoder actors
(one GPU each where the cluster has GPUs), write whole documents to the Milvus backend in large batches.

Ray Data streams the stages, so the encoders are fed while files are still being read and nothing waits
for a whole input in memory:

    files --read (task per file)--> records --prepare (tasks)--> documents + passages
          --embed (actor pool)--> + vectors --(this process) upsert--> Milvus

Resuming after a failure (kill -9 included) needs no bookkeeping: a passage's primary key is a hash of
its document id and offsets, so writing it again overwrites it, and a document's first passage is
written after all its others, so a document whose first passage is in Milvus is complete. A rerun
skips those before embedding anything and rewrites the rest.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.errors import IndexNotBuiltError, MissingDependencyError
from qa.index.collection import ChunkingSettings
from qa.index.milvus_names import MilvusNamePairs
from qa.index.milvus_passages import MilvusPassages
from qa.index.milvus_rows import passage_rows
from qa.ingest.pipeline import IngestReport, PreparedDocument, embed_text, prepare
from qa.settings import Settings
from qa.text.name_pairs import NamePair
from qa.types import Rejection

RAY_EXTRA = "pip install 'speechqa[ray]'"
# Rows written to Milvus per upsert call at the default 256 passages a commit (SPEECHQA_COMMIT_PASSAGES
# scales it): large enough that a server's per-call cost disappears; whole documents only.
WRITE_ROWS = 2048
# Documents per encoder call: a GPU actor embeds far faster than a CPU one (scripts/bench.py --embed).
CPU_EMBED_DOCUMENTS = 16
GPU_EMBED_DOCUMENTS = 256
# Ray's blocks are cut this small so preparing starts on the first records of a large file
# while the rest is still being read.
BLOCK_BYTES = 4 * 1024 * 1024
PREPARE_CPUS = 0.5

log = logging.getLogger(__name__)


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError(f"--ray needs Ray Data: {RAY_EXTRA}") from exc
    return ray


@dataclass(frozen=True)
class RayPlan:
    """How the cluster is used: encoder actors and what each one holds."""

    actors: int
    gpus_per_actor: float
    cpus_per_actor: float
    documents_per_call: int


def plan_for(resources: dict) -> RayPlan:
    """One encoder actor per GPU; without GPUs, one CPU actor per four cores (the ONNX encoder runs
    a thread per core of its machine), leaving cores to the tasks that read and prepare."""
    gpus = int(resources.get("GPU", 0))
    if gpus:
        return RayPlan(gpus, 1.0, 1.0, GPU_EMBED_DOCUMENTS)
    cpus = int(resources.get("CPU", 1))
    return RayPlan(max(1, cpus // 4), 0.0, 1.0, CPU_EMBED_DOCUMENTS)


def _read_file(row: dict) -> Iterator[dict]:
    from qa.ingest.readers import read_path

    for record in read_path(Path(row["path"]), max_bytes=int(row["max_bytes"])):
        yield {"record": pickle.dumps(record)}


def _prepare_batch(batch: dict, chunking: ChunkingSettings, complete) -> dict:
    """Clean, describe, chunk and tokenise a block of records; documents Milvus already holds are dropped."""
    import ray

    if isinstance(complete, ray.ObjectRef):
        complete = ray.get(complete)
    out: dict[str, list] = {"payload": [], "texts": [], "title": []}
    for blob in batch["record"]:
        record = pickle.loads(blob)
        prepared: Rejection | PreparedDocument | _AlreadyThere = record if isinstance(record, Rejection) else prepare(record, chunking)
        texts: list[str] = []
        title = ""
        if isinstance(prepared, PreparedDocument):
            if prepared.document.doc_id in complete:
                prepared = _AlreadyThere(prepared.document.sources[0])
            else:
                texts = [embed_text(s.passage.text) for s in prepared.passages]
                title = embed_text(prepared.document.metadata.title or "")
        out["payload"].append(pickle.dumps(prepared))
        out["texts"].append(texts)
        out["title"].append(title)
    return out


@dataclass(frozen=True)
class _AlreadyThere:
    source: str


class _Embedder:
    """An encoder loaded once per actor; embeds every passage of a batch of documents in one call."""

    def __init__(self, settings: Settings) -> None:
        from embeddings.loader import load_encoder

        self.encoder = load_encoder(settings)
        self.batch_size = settings.batch_size

    def __call__(self, batch: dict) -> dict:
        texts = [list(texts) for texts in batch["texts"]]
        titles = [str(title) for title in batch["title"]]
        flat = [text for document in texts for text in document] + [title for title in titles if title]
        vectors = self.encoder.embed(flat, "passage", self.batch_size)
        out, start = [], 0
        for document in texts:
            out.append(vectors[start:start + len(document)].astype(np.float32).tobytes())
            start += len(document)
        title_vectors = []
        for title in titles:  # the document's title, for an English question's second stage
            title_vectors.append(vectors[start].astype(np.float32).tobytes() if title else b"")
            start += bool(title)
        return {"payload": batch["payload"], "vectors": out, "title_vector": title_vectors}


def complete_documents(passages: MilvusPassages) -> frozenset[str]:
    """Documents whose first passage is in Milvus: all of their passages are (it is written last)."""
    return frozenset(passages.document_ids())


def ray_ingest(settings: Settings, index: str, paths: Sequence[Path], *, address: str | None = None,
               limit: int | None = None) -> tuple[IngestReport, int]:
    """Ingest `paths` through Ray into the Milvus collection `index` names (created when missing).

    `address` is a Ray cluster (None: RAY_ADDRESS, else a local cluster on this machine's cores).
    Returns the report and the documents the collection holds afterwards.
    """
    ray = _ray()
    from embeddings.loader import model_name
    from qa.ingest.readers import discover_files

    report = IngestReport()
    files = [str(path) for path in discover_files(paths)]
    started_here = not ray.is_initialized()
    if started_here:
        # Before any Milvus client: Milvus Lite serves gRPC from threads of this process, and Ray's
        # start-up forks its daemons, which gRPC's threads do not survive.
        ray.init(address=address or os.environ.get("RAY_ADDRESS") or None, include_dashboard=False,
                 logging_level=logging.WARNING, log_to_driver=False, configure_logging=False)
    passages = None
    try:
        model = model_name(settings)
        try:
            passages = MilvusPassages.open(index, model)
        except IndexNotBuiltError:
            dim = ray.get(ray.remote(_encoder_dim).remote(settings))
            passages = MilvusPassages.open(index, model, dim, create=True)
        if files:
            _run(ray, settings, passages, files, limit, report)
        return report, passages.count_documents()
    finally:
        if passages is not None:
            passages.close()
        if started_here:
            ray.shutdown()


def _encoder_dim(settings: Settings) -> int:
    from embeddings.loader import load_encoder

    return load_encoder(settings).dim


def _run(ray, settings: Settings, passages: MilvusPassages, files: list[str], limit: int | None, report: IngestReport) -> None:
    context = ray.data.DataContext.get_current()
    context.target_max_block_size = BLOCK_BYTES
    context.enable_progress_bars = False
    plan = plan_for(ray.cluster_resources())
    complete = complete_documents(passages)
    dataset = ray.data.from_items([{"path": path, "max_bytes": settings.max_file_bytes} for path in files])
    dataset = dataset.flat_map(_read_file)
    if limit is not None:
        dataset = dataset.limit(limit)
    dataset = dataset.map_batches(_prepare_batch, fn_kwargs={"chunking": ChunkingSettings(), "complete": ray.put(complete)},
                                  # Resources unlike the encoders': Ray then keeps preparing in tasks of its own instead of
                                  # fusing it into the encoder actors, where it would wait for the model.
                                  batch_size=64, num_cpus=PREPARE_CPUS)
    # Fewer passages between commits (SPEECHQA_COMMIT_PASSAGES) also means smaller encoder calls.
    per_call = plan.documents_per_call if settings.commit_passages >= 256 else max(1, settings.commit_passages // 16)
    dataset = dataset.map_batches(_Embedder, fn_constructor_args=(settings,), batch_size=per_call,
                                  compute=ray.data.ActorPoolStrategy(size=plan.actors),
                                  num_gpus=plan.gpus_per_actor or None, num_cpus=plan.cpus_per_actor)
    _write(dataset, passages, report, passages.dim, WRITE_ROWS * settings.commit_passages // 256)


def _write(dataset, passages: MilvusPassages, report: IngestReport, dim: int, write_rows: int) -> None:
    """Upsert whole documents, each one's first passage last, in batches of about `write_rows` rows, and
    then the name pairs they state."""
    names = MilvusNamePairs(passages.client, passages.name)
    rows: list[dict] = []
    titles: dict[str, np.ndarray] = {}
    stated: dict[str, tuple[NamePair, ...]] = {}
    written: set[str] = set()
    for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
        for payload, blob, title_blob in zip(batch["payload"], batch["vectors"], batch["title_vector"], strict=True):
            prepared = pickle.loads(payload)
            if isinstance(prepared, Rejection):
                report.reject(prepared)
                continue
            if isinstance(prepared, _AlreadyThere):
                report.duplicates.append(prepared.source)
                continue
            document = prepared.document
            if document.doc_id in written:  # the same text twice in one run
                report.duplicates.append(document.sources[0])
                continue
            vectors = np.frombuffer(blob, dtype=np.float32).reshape(-1, dim)
            rows += passage_rows(document, prepared.passages, list(vectors))
            if len(title_blob) and document.metadata.title:
                titles[document.metadata.title] = np.frombuffer(title_blob, dtype=np.float32)
            stated[document.doc_id] = prepared.name_pairs
            written.add(document.doc_id)
            report.added.append(document.doc_id)
            if len(rows) >= write_rows:
                passages.put_title_vectors(passages.model, titles)  # before the rows, as the embedded backend writes them
                passages.upsert_rows(rows)
                names.put(stated)
                rows, titles, stated = [], {}, {}
    if rows:
        passages.put_title_vectors(passages.model, titles)
        passages.upsert_rows(rows)
        names.put(stated)
    passages.commit()

