"""The write side of the facade: adding and removing documents, one change at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from embeddings.base import Encoder
from qa.errors import NotFoundError
from qa.index.collection import lower_thread_priority
from qa.index.contract import Backend
from qa.ingest.pipeline import Ingester, IngestReport
from qa.search.jobs import ChangeJobs, Job
from qa.types import RawDocument, Rejection


class ChangeService:
    """Adds and removes documents of one collection, one change at a time; searches over it
    (qa.search.service) read their own snapshots meanwhile.

    `encoder` None: a service that only removes documents, which never needs the model.
    """

    def __init__(self, collection: Backend, encoder: Encoder | None, *, batch_size: int = 32) -> None:
        self.collection = collection
        self.encoder = encoder
        self.batch_size = batch_size
        self._write_lock = threading.Lock()
        self._thread_lock = threading.Lock()
        self._thread: ThreadPoolExecutor | None = None

    def add_documents(self, records: Iterable[RawDocument | Rejection], *, prepare_workers: int | None = 0,
                      commit_passages: int = 256, progress: Callable[[int], None] | None = None,
                      yield_to_searches: bool = True) -> IngestReport:
        """Add documents: only their passages are embedded and indexed; searches see them once this returns.

        Uploads are small, so by default they are prepared here rather than in worker processes
        (None: as many as the machine suits, for a large ingest). `yield_to_searches` runs the work on
        a thread of lower priority (a server's uploads); a CLI ingest, alone on the machine, does not.
        """
        assert self.encoder is not None, "adding documents needs the model: build the service with an encoder"
        encoder = self.encoder

        def add() -> IngestReport:
            with self._write_lock:
                return Ingester(self.collection, encoder, batch_size=self.batch_size, commit_passages=commit_passages,
                                progress=progress, prepare_workers=prepare_workers).add_records(records)

        if not yield_to_searches:
            return add()
        return self._changes_thread().submit(add).result()

    def add_files(self, files: Sequence[tuple[str, bytes]], *, max_file_bytes: int) -> IngestReport:
        """Add files given as (name, contents), such as a request's uploads: each is read in memory, never
        written to disk, and cited by its base name (qa.ingest.readers.read_named); one that cannot be
        read, or is over `max_file_bytes`, is rejected with the reason."""
        from qa.ingest.readers import read_named

        return self.add_documents(record for name, data in files
                                  for record in read_named(name, data, max_bytes=max_file_bytes))

    def add_files_later(self, jobs: ChangeJobs, files: Sequence[tuple[str, bytes]], *, max_file_bytes: int) -> Job:
        """Queue a large upload as a change job; the job's report says what came of it."""
        from qa.ingest.readers import cited_name

        def work(report: IngestReport, stop: threading.Event) -> None:
            self.add_files_as_job(files, max_file_bytes=max_file_bytes, report=report, stop=stop)

        return jobs.submit(tuple(cited_name(name) for name, _ in files), work)

    def add_files_as_job(self, files: Sequence[tuple[str, bytes]], *, max_file_bytes: int, report: IngestReport,
                         stop: threading.Event) -> IngestReport:
        """Add a large upload, for a change job (qa.search.jobs) on its own thread: the files are read and
        prepared in a process of their own (qa.ingest.preparing), `report` is filled in as documents are
        committed, and `stop` ends the work at the next document.

        It takes no change lock for its whole run, so a deletion waits at most for one batch: the
        collection writes one batch at a time, and the store records a text written meanwhile by another
        writer as a duplicate.
        """
        from qa.ingest.preparing import prepared_uploads

        assert self.encoder is not None, "adding documents needs the model: build the service with an encoder"
        ingester = Ingester(self.collection, self.encoder, batch_size=self.batch_size, report=report)
        return ingester.add_prepared(prepared_uploads(files, max_file_bytes, self.collection.chunking, stop), stop)

    def remove_document(self, doc_id: str) -> None:
        """Remove a document and its passages; a search that starts after this returns never sees them."""
        with self._write_lock:
            if not self.collection.remove_document(doc_id):
                raise NotFoundError(f"no document with id {doc_id!r}; nothing was removed")

    def _changes_thread(self) -> ThreadPoolExecutor:
        """One thread of lower CPU priority for uploads: embedding one takes a core, and searches
        running beside it should not wait for that core."""
        with self._thread_lock:
            if self._thread is None:
                self._thread = ThreadPoolExecutor(1, thread_name_prefix="speechqa-changes",
                                                  initializer=lower_thread_priority)
            return self._thread
