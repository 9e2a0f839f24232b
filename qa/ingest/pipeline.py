"""files -> RawDocument -> Document -> Passages -> vectors, written to the store a batch of whole documents at a time."""

from __future__ import annotations

import hashlib
import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.pool import ApplyResult
from pathlib import Path

import numpy as np

from embeddings.base import Encoder, available_cores
from qa.citations import citation_source
from qa.errors import DiskFullError
from qa.index.contract import Backend, ChunkingSettings, Reindexable
from qa.index.near_duplicates import NearDuplicateFinder
from qa.index.store_passages import StoredPassage
from qa.ingest.chunking import chunk_text
from qa.ingest.cleaning import clean_text
from qa.ingest.metadata import content_hash, extract_metadata, stated_occasion
from qa.ingest.readers import count_records, find_inputs, read_path
from qa.text.name_pairs import NamePair, document_pairs
from qa.text.normalize import detect_script, to_simplified
from qa.text.sentences import sentence_groups
from qa.text.shingles import minhash_signature
from qa.text.tokens import lexical_tokens
from qa.types import Document, Metadata, Passage, RawDocument, Rejection

log = logging.getLogger(__name__)

# Documents whose cleaned text is shorter than this carry no retrievable content (xwlb has
# over a thousand near-empty entries such as a lone headline).
MIN_DOCUMENT_CHARS = 20
# Records handed to the preparing processes at a time: enough to keep them all busy while the
# previous window is embedded, few enough that memory stays bounded on any input. Inputs shorter
# than PREPARE_POOL_MIN records are prepared in this process.
PREPARE_WINDOW = 512
PREPARE_POOL_MIN = 128
GPU_COMMIT_PASSAGES = 8192
# Bumped when what ingest derives from a document's text changes (metadata rules, BM25 words), so a
# collection built before knows that `speechqa reindex` would bring it up to date.
DERIVED_VERSION = 4  # 4: the name pairs a document states


# Rejections a report lists with their reasons; those after are counted. A file of a million bad records
# then costs a thousand reasons, not a million (and its upload's answer stays small).
MAX_LISTED_REJECTIONS = 1000


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)  # an existing document gained a new source
    duplicates: list[str] = field(default_factory=list)  # sources already known, or repeats of a known text
    rejected: list[Rejection] = field(default_factory=list)  # the first MAX_LISTED_REJECTIONS
    rejected_count: int = 0
    _first_unlisted: str | None = None

    def reject(self, rejection: Rejection) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_LISTED_REJECTIONS:
            self.rejected.append(rejection)
        elif self._first_unlisted is None:
            self._first_unlisted = rejection.source

    def rejections(self) -> list[Rejection]:
        """The listed rejections, and one that says how many more there were."""
        more = self.rejected_count - len(self.rejected)
        if not more or self._first_unlisted is None:
            return list(self.rejected)
        where = self._first_unlisted.split("#", 1)[0]
        return [*self.rejected, Rejection(where, f"{more:,} more were rejected and are not listed (the first "
                                                 f"{len(self.rejected):,} are, each with its reason)")]

    def counts(self) -> dict[str, int]:
        """What a summary counts: documents added and updated, sources that were duplicates, inputs rejected."""
        return {"added": len(self.added), "updated": len(self.updated), "duplicates": len(self.duplicates),
                "rejected": self.rejected_count}

    def summary(self) -> str:
        counts = self.counts()
        return (f"{counts['added']} added, {counts['updated']} updated, "
                f"{counts['duplicates']} duplicates, {counts['rejected']} rejected")

    def as_dict(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "duplicates": self.duplicates,
            "rejected": [{"source": r.source, "reason": r.reason} for r in self.rejections()],
        }


def embed_text(passage_text: str) -> str:
    """What the model reads for a passage: script-normalised, so Traditional passages meet Simplified queries."""
    return to_simplified(passage_text)


# A sentence shorter than this ("他說：", a heading) is read together with the next one.
SENTENCE_MIN_CHARS = 20


def embed_sentences(passage_text: str) -> list[str]:
    """What the model reads for a passage, one sentence at a time (short ones joined to the next).

    An answer is usually one sentence of a passage: a question's vector meets that sentence's far
    better than the vector of the whole passage, where the other sentences dilute it.
    """
    text = embed_text(passage_text)
    return ["".join(text[start:end] for start, end in group).strip() for group in sentence_groups(text, SENTENCE_MIN_CHARS)]


def embedded_sentence_spans(passage_text: str) -> list[tuple[int, int]] | None:
    """Where in ``passage_text`` each sentence of ``embed_sentences`` lies, in the same order (a
    highlight can then mark the one a query's vector met best); None for the rare passage whose
    Simplified form is not as long as it, where the offsets would not carry over."""
    text = embed_text(passage_text)
    if len(text) != len(passage_text):
        return None
    return [(group[0][0], group[-1][1]) for group in sentence_groups(text, SENTENCE_MIN_CHARS)]


class ScaledProgress:
    """Counts of one unit reported as the same share of another: `parts` done of `whole` become that share of
    `units`, in whole units, all of them once the whole is done (sentences embedded as passages, passages as
    the documents they belong to)."""

    def __init__(self, report: Callable[[int], None], units: int, whole: int) -> None:
        self.report, self.units, self.whole = report, units, whole
        self.done = self.reported = 0

    def __call__(self, parts: int) -> None:
        self.done += parts
        share = self.units if self.done >= self.whole else self.units * self.done // max(1, self.whole)
        if share > self.reported:
            self.report(share - self.reported)
            self.reported = share

    def finish(self) -> None:
        """Report what is left of the units (the work is done, however much of it was counted)."""
        if self.units > self.reported:
            self.report(self.units - self.reported)
            self.reported = self.units


def embed_passages(encoder: Encoder, texts: Sequence[str], batch_size: int,
                   progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """(passage vectors, each passage's sentence vectors) for passage texts; `progress` hears of passages embedded.

    The model reads each sentence once, which costs about what reading the whole passage does; a
    passage's own vector, which finds candidates in the vector index, is the normalised mean of its
    sentences'. The sentence vectors score those candidates (qa.index.contract.CollectionView.dense_scores).
    """
    sentences = [embed_sentences(text) for text in texts]
    flat = [sentence for group in sentences for sentence in group]
    # The model counts sentences; whoever watches counts passages.
    counted = ScaledProgress(progress, len(texts), len(flat)) if progress else None
    vectors = encoder.embed(flat, "passage", batch_size, counted) if flat else np.zeros((0, 0), np.float32)
    groups, start = [], 0
    for group in sentences:
        groups.append(vectors[start : start + len(group)])
        start += len(group)
    means = np.array([group.mean(axis=0) for group in groups], dtype=np.float32).reshape(len(groups), -1)
    means /= np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-12)
    return means, groups


def embed_for(collection: Backend, encoder: Encoder, texts: Sequence[str], batch_size: int,
              progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, list[np.ndarray] | None]:
    """(passage vectors, sentence vectors or None) as the collection uses them: a sentence at a time
    for one that scores by sentence, else each passage read whole (the Milvus backend)."""
    if collection.capabilities.scores_sentences:
        return embed_passages(encoder, texts, batch_size, progress)
    return encoder.embed([embed_text(text) for text in texts], "passage", batch_size, progress), None


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def document_context(metadata: Metadata, text: str) -> str:
    """What a document's opening lines say about all of its passages: the occasion, place and speaker."""
    return "\n".join(part for part in (stated_occasion(text), metadata.place, metadata.speaker) if part)


def passage_tokens(passage_text: str, title: str | None, context: str = "") -> str:
    """The BM25 words of a passage: its own, then its document's title's and context's (document_context).

    The passage alone does not say which speech it belongs to (the year of a yearly address, the
    occasion of a templated release, who spoke where); its title and opening lines do. Only the index
    reads these words: citations, highlights and offsets refer to the passage's own text.
    """
    return " ".join(lexical_tokens(passage_text) + lexical_tokens(title or "") + lexical_tokens(context))


def make_passages(document_id: str, text: str, settings: ChunkingSettings, title: str | None = None,
                  context: str = "") -> list[StoredPassage]:
    chunks = chunk_text(
        text,
        min_chars=settings.min_chars,
        target_chars=settings.target_chars,
        max_chars=settings.max_chars,
        overlap_sentences=settings.overlap_sentences,
    )
    out = []
    for ordinal, chunk in enumerate(chunks):
        chunk_id = "c-" + text_hash(f"{document_id}:{chunk.char_start}:{chunk.char_end}")[:16]
        passage = Passage(chunk_id, document_id, ordinal, chunk.text, chunk.char_start, chunk.char_end, chunk.section)
        out.append(StoredPassage(passage, text_hash(embed_text(chunk.text)), passage_tokens(chunk.text, title, context)))
    return out


def build_document(raw: RawDocument) -> Document | Rejection:
    cleaned = clean_text(raw.text)
    if len(cleaned.strip()) < MIN_DOCUMENT_CHARS:
        return Rejection(raw.source, f"no speech text left after cleaning ({len(cleaned.strip())} characters); "
                                     "check that the file holds the speech itself, not only a title or page furniture")
    digest = content_hash(cleaned)
    return Document(
        doc_id="d-" + digest[:16],
        text=cleaned,
        content_hash=digest,
        metadata=extract_metadata(raw, cleaned),
        script=detect_script(cleaned),
        sources=(citation_source(raw.source),),
    )


@dataclass(frozen=True)
class PreparedDocument:
    """A document with everything computed from its own text: passages, their BM25 words, its signature,
    the name pairs it states."""

    document: Document
    passages: list[StoredPassage]
    signature: np.ndarray
    name_pairs: tuple[NamePair, ...] = ()


def prepare(raw: RawDocument, chunking: ChunkingSettings) -> PreparedDocument | Rejection:
    """Clean, describe, chunk and tokenise one record: pure work, so it can run in another process."""
    try:
        built = build_document(raw)
        if isinstance(built, Rejection):
            return built
        return PreparedDocument(built, make_passages(built.doc_id, built.text, chunking, built.metadata.title,
                                                        document_context(built.metadata, built.text)),
                                minhash_signature(built.text), tuple(document_pairs(built.metadata.title, built.text)))
    except Exception as exc:  # one odd document must not stop the rest of the run
        log.exception("could not process %s", raw.source)
        return Rejection(raw.source, f"could not be processed ({type(exc).__name__}: {exc}); "
                                     "the rest went in — please report this file")


def default_prepare_workers() -> int:
    """Processes that prepare documents beside the embedder. Even on two cores they fill the gaps the
    embedder leaves (scripts/bench.py --ingest measures the throughput); on a GPU machine,
    preparing text rather than the model limits throughput, so most of the cores go to it."""
    cores = available_cores()
    return 0 if cores < 2 else min(cores, 12)


class Ingester:
    """Adds documents to a collection: dedupes, chunks, embeds (reusing cached vectors) and commits in batches."""

    def __init__(self, collection: Backend, encoder: Encoder, *, batch_size: int = 32, commit_passages: int = 256,
                 progress: Callable[[int], None] | None = None, prepare_workers: int | None = None,
                 report: IngestReport | None = None) -> None:
        """`report`: the one to fill in as documents are committed (a change job's, which others read meanwhile)."""
        self.collection = collection
        self.prepare_workers = default_prepare_workers() if prepare_workers is None else prepare_workers
        self.encoder = encoder
        self.batch_size = batch_size
        # A GPU embeds a CPU-sized commit almost at once: commits that small would leave it waiting on
        # SQLite and on Python between them, so it gets larger ones (scripts/bench.py --embed for its speed).
        self.commit_passages = commit_passages if encoder.device == "cpu" else max(commit_passages, GPU_COMMIT_PASSAGES)
        # Hears of records finished (documents written, skipped or rejected), a batch's documents
        # counted as their passages are embedded, so that a long batch shows it is moving.
        self.progress = progress
        self.report = IngestReport() if report is None else report
        self._near = collection.near_duplicates()  # stored documents; the collection keeps it current
        self._near_pending = NearDuplicateFinder()  # documents of the batch not yet written
        self._pending: list[tuple[Document, list[StoredPassage], bytes]] = []
        self._pending_hashes: dict[str, str] = {}
        self._pending_names: dict[str, tuple[NamePair, ...]] = {}

    def add_paths(self, paths: Iterable[Path], max_bytes: int, limit: int | None = None) -> IngestReport:
        """Ingest files; `limit` stops after that many records (documents or rejections)."""
        return self.add_records(read_records(paths, max_bytes, limit))

    def add_records(self, records: Iterable[RawDocument | Rejection], stop: threading.Event | None = None) -> IngestReport:
        return self.add_prepared(self._prepared(records), stop)

    def add_prepared(self, items: Iterable[PreparedDocument | Rejection],
                     stop: threading.Event | None = None) -> IngestReport:
        """Dedupe, embed and commit prepared documents. Once `stop` is set, this ends at the next document:
        the batch not yet committed is dropped (it was never reported as added)."""
        for prepared in items:
            if stop is not None and stop.is_set():
                return self.report
            if isinstance(prepared, Rejection):
                self.report.reject(prepared)
                self._finished(1)
                continue
            try:
                self._add_one(prepared)
            except DiskFullError:
                raise
            except Exception as exc:  # one odd document must not stop the rest of the run
                source = prepared.document.sources[0]
                log.exception("could not process %s", source)
                self.report.reject(Rejection(source, f"could not be processed ({type(exc).__name__}: {exc}); "
                                                              "the rest went in — please report this file"))
                self._finished(1)
            if sum(len(p) for _, p, _ in self._pending) >= self.commit_passages:
                self._flush()
        self._flush()
        return self.report

    def _prepared(self, records: Iterable[RawDocument | Rejection]) -> Iterator[PreparedDocument | Rejection]:
        """Records prepared in order: here, or PREPARE_WINDOW at a time by a pool of processes."""
        chunking = self.collection.chunking
        import multiprocessing

        # Inside a worker (a script without a __main__ guard re-runs itself there) never start another pool.
        if self.prepare_workers < 1 or multiprocessing.parent_process() is not None:
            for record in records:
                yield prepare_record(record, chunking)
            return
        iterator = iter(records)
        window = list(itertools.islice(iterator, PREPARE_WINDOW))
        if len(window) < PREPARE_POOL_MIN:  # a few files: starting processes would cost more than it saves
            for record in window:
                yield prepare_record(record, chunking)
            return
        # spawn, not fork: the parent holds model and tokenizer threads that a fork would copy mid-lock.
        context = multiprocessing.get_context("spawn")
        with context.Pool(self.prepare_workers) as pool:

            def started(records: list[RawDocument | Rejection]) -> tuple[list, ApplyResult[list[PreparedDocument | Rejection]]]:
                # A rejection needs no preparing: it stays here rather than crossing to a worker and back.
                return records, pool.starmap_async(prepare_record, [(record, chunking) for record in records
                                                                    if not isinstance(record, Rejection)])

            # One window is prepared while the previous one is embedded and written.
            running: tuple[list, ApplyResult[list[PreparedDocument | Rejection]]] | None = started(window)
            while running is not None:
                following = list(itertools.islice(iterator, PREPARE_WINDOW))
                upcoming = started(following) if following else None
                records, result = running
                prepared = iter(result.get())
                for record in records:
                    yield record if isinstance(record, Rejection) else next(prepared)
                running = upcoming

    def _add_one(self, prepared: PreparedDocument) -> None:
        built, signature = prepared.document, prepared.signature
        existing = self.collection.find_by_hash(built.content_hash) or self._pending_hashes.get(built.content_hash)
        if existing is None:
            for finder in (self._near, self._near_pending):
                near = finder.find(signature)
                if near is not None and self._same_date(near, built.metadata.date):
                    existing = near
                    break
        if existing is not None:
            self._record_source(existing, built.sources[0])
            self._finished(1)
            return
        self._pending.append((built, prepared.passages, signature.tobytes()))
        self._pending_hashes[built.content_hash] = built.doc_id
        self._pending_names[built.doc_id] = prepared.name_pairs
        self._near_pending.add(built.doc_id, signature)

    def _finished(self, records: int) -> None:
        if self.progress is not None:
            self.progress(records)

    def _same_date(self, doc_id: str, date: str | None) -> bool:
        """Whether a near-identical document can be the same one: a templated release (a yearly rite, a
        recurring meeting) dated otherwise is another speech, however alike the words."""
        pending = next((document for document, _, _ in self._pending if document.doc_id == doc_id), None)
        known = pending or self.collection.get_documents([doc_id]).get(doc_id)
        other = known.metadata.date if known is not None else None
        return date is None or other is None or date == other

    def _record_source(self, doc_id: str, source: str) -> None:
        for i, (document, passages, signature) in enumerate(self._pending):
            if document.doc_id == doc_id:
                if source in document.sources:
                    self.report.duplicates.append(source)
                else:
                    self._pending[i] = (replace(document, sources=(*document.sources, source)), passages, signature)
                    self.report.updated.append(doc_id)
                return
        if self.collection.add_source(doc_id, source):
            self.report.updated.append(doc_id)
        else:
            self.report.duplicates.append(source)

    def _flush(self) -> None:
        if not self._pending:
            return
        wanted = {s.embed_hash: s.passage.text for _, passages, _ in self._pending for s in passages}
        known = self.collection.known_vectors(wanted)
        missing = [key for key in wanted if key not in known]
        fresh: dict[str, np.ndarray] = {}
        sentences: dict[str, np.ndarray] = {}
        documents = ScaledProgress(self._finished, len(self._pending), len(missing))
        if missing:
            vectors, groups = embed_for(self.collection, self.encoder, [wanted[key] for key in missing],
                                        self.batch_size, documents)
            fresh = dict(zip(missing, vectors, strict=True))
            sentences = dict(zip(missing, groups, strict=True)) if groups is not None else {}
        if self.collection.derived_version() is not None and not self.collection.count_documents():
            # Everything this collection will hold is derived by this version (until an older one appends).
            self.collection.set_derived_version(DERIVED_VERSION)
        if self.collection.capabilities.scores_titles:
            # Before the documents: a title vector without its document is harmless, the reverse a gap.
            embed_titles(self.collection, self.encoder, [document.metadata.title or "" for document, _, _ in self._pending],
                         self.batch_size)
        batch, self._pending = self._pending, []
        names = {document.doc_id: self._pending_names[document.doc_id] for document, _, _ in batch
                 if document.doc_id in self._pending_names}
        self._pending_hashes = {}
        self._pending_names = {}
        self._near_pending = NearDuplicateFinder()
        self._write(batch, {**known, **fresh}, list(fresh), sentences, names)
        documents.finish()

    def _write(self, batch: list[tuple[Document, list[StoredPassage], bytes]], vectors: dict[str, np.ndarray],
               fresh: list[str], sentences: dict[str, np.ndarray], names: dict[str, tuple[NamePair, ...]]) -> None:
        """Write a batch of documents in one transaction; when it fails for another reason than a full disk,
        each document alone, so that one that cannot be written is rejected and the others go in."""
        try:
            # The collection writes the store and indexes just these passages.
            change = self.collection.add_documents(batch, vectors, fresh=fresh, sentence_vectors=sentences,
                                                   name_pairs=names)
        except DiskFullError:
            raise  # nothing of the batch was written, and no other batch can be
        except Exception as exc:
            if len(batch) > 1:
                log.warning("a batch of %d documents could not be written (%s): writing each alone", len(batch), exc)
                for item in batch:
                    self._write([item], vectors, fresh, sentences, names)
                return
            source = batch[0][0].sources[0]
            log.exception("could not write %s", source)
            self.report.reject(Rejection(source, f"could not be written ({type(exc).__name__}: {exc}); "
                                                 "the rest went in — please report this file"))
            return
        for document, _, _ in batch:
            gained_a_source = change.already_stored.get(document.doc_id)
            if gained_a_source is None:
                self.report.added.append(document.doc_id)
            elif gained_a_source:  # another writer stored the same text first, from another source
                self.report.updated.append(document.doc_id)
            else:
                self.report.duplicates.extend(document.sources)


def prepare_record(record: RawDocument | Rejection, chunking: ChunkingSettings) -> PreparedDocument | Rejection:
    return record if isinstance(record, Rejection) else prepare(record, chunking)


def read_records(paths: Iterable[Path], max_bytes: int, limit: int | None = None) -> Iterator[RawDocument | Rejection]:
    """The records of these files and folders, the first `limit` of them (documents or rejections)."""
    return itertools.islice(_read_all(paths, max_bytes), limit)


def count_all_records(paths: Iterable[Path], limit: int | None = None) -> int:
    """About how many records `read_records` gives (qa.ingest.readers.count_records), for a progress total."""
    total = 0
    for found in find_inputs(paths):
        total += count_records(found) if isinstance(found, Path) else 1
        if limit is not None and total >= limit:
            return limit
    return total


def _read_all(paths: Iterable[Path], max_bytes: int) -> Iterator[RawDocument | Rejection]:
    for found in find_inputs(paths):
        if isinstance(found, Rejection):  # a folder entry that is skipped, with the reason
            yield found
        else:
            yield from read_path(found, max_bytes=max_bytes)


def refresh_derived(collection: Reindexable, batch: int = 500) -> int:
    """Re-derive, from stored text, what this speechqa derives differently from the one that built the
    collection: speakers and places (qa.ingest.metadata.refresh_metadata), passages' BM25 words (title
    context) and the name pairs each document states. No text is re-read from files and nothing is
    re-embedded. Returns the documents changed."""
    from qa.ingest.metadata import refresh_metadata

    doc_ids = collection.all_document_ids()
    changed = 0
    for start in range(0, len(doc_ids), batch):
        documents = collection.get_documents(doc_ids[start : start + batch], with_text=True)
        updates = []
        names: dict[str, list[NamePair]] = {}
        for doc_id, document in documents.items():
            meta = refresh_metadata(document)
            context = document_context(meta, document.text)
            tokens = {pid: passage_tokens(text, meta.title, context) for pid, text in collection.passage_texts_of(doc_id)}
            updates.append((doc_id, meta, tokens))
            names[doc_id] = document_pairs(meta.title, document.text)
        if updates:
            collection.refresh_derived(updates, names)
            changed += len(updates)
    collection.set_derived_version(DERIVED_VERSION)
    return changed


def reindex_advice(collection: Backend) -> str | None:
    """What to run when the collection's BM25 words and metadata were derived by an older speechqa
    (they keep working, without what the newer rules add); None when they are current, or when the
    backend records no derivation (nothing to reindex)."""
    found = collection.derived_version()
    if found is None or found >= DERIVED_VERSION or not collection.count_documents():
        return None
    return (f"{collection.location}: its BM25 words and speakers were derived by an older speechqa; "
            f"`speechqa reindex --data {collection.location}` brings them up to date (nothing is re-embedded "
            "but the document titles)")


def embed_titles(collection: Backend, encoder: Encoder, titles: Sequence[str] | None, batch_size: int) -> int:
    """Embed those of these document titles (default: every stored document's) the collection's model has
    no vector for: an English question's second stage reads them (qa.search.rerank). Returns how many."""
    missing = collection.titles_without_vectors(titles)
    for start in range(0, len(missing), 2048):
        block = missing[start : start + 2048]
        vectors = encoder.embed([embed_text(title) for title in block], "passage", batch_size)
        collection.put_title_vectors(dict(zip(block, vectors, strict=True)))
    return len(missing)


def embed_missing(collection: Reindexable, encoder: Encoder, batch_size: int,
                  progress: Callable[[int], None] | None = None) -> int:
    """Embed every stored passage the collection's model has no vector for (after a model change), and
    the sentences of passages stored before sentence vectors. Returns the passages embedded."""
    missing = collection.passages_missing_vectors()
    for start in range(0, len(missing), 2048):
        block = missing[start : start + 2048]
        keys = [key for key, _ in block]
        vectors, groups = embed_for(collection, encoder, [text for _, text in block], batch_size, progress)
        if groups is not None:
            collection.put_sentence_vectors(dict(zip(keys, groups, strict=True)))
        collection.put_vectors(dict(zip(keys, vectors, strict=True)))
    unscored = collection.passages_missing_sentence_vectors() if collection.capabilities.scores_sentences else []
    for start in range(0, len(unscored), 2048):
        block = unscored[start : start + 2048]
        # Their passage vectors stay: they are the whole passage's, as good for finding candidates.
        _, groups = embed_passages(encoder, [text for _, text in block], batch_size, progress)
        collection.put_sentence_vectors(dict(zip([key for key, _ in block], groups, strict=True)))
    return len(missing) + len(unscored)
