"""Changes that outlast a request: a large upload is added by a job in the background, one job at a time.

A request hands its work over and is answered at once (`202 Accepted` with the job's URL); the job
reports what it has committed so far and, when it ends, the same report an upload answers with. Jobs
run in order on one daemon thread of lower priority, so that searches go on beside them and a server
that is stopping need not wait: whole documents a job committed stay, the batch it was writing is
dropped whole (SQLite commits whole transactions or nothing), and asking it to stop ends it at the
next document.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from qa.errors import NotFoundError, SpeechQAError
from qa.index.collection import lower_thread_priority
from qa.ingest.pipeline import IngestReport

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, STOPPED = "queued", "running", "done", "failed", "stopped"
# An upload holding more than this once decompressed is added by a job: reading, embedding and writing it
# takes longer than a request should wait (a megabyte of text is a few hundred passages).
JOB_BYTES = 1024 * 1024
# Finished jobs kept for their reports, newest last; an older one's URL then answers 404.
KEPT_JOBS = 100

# What a job runs: it fills in the report as it commits, and ends early once `stop` is set.
JobWork = Callable[[IngestReport, threading.Event], object]


@dataclass
class Job:
    id: str
    files: tuple[str, ...]
    work: JobWork = field(repr=False)
    status: str = QUEUED
    report: IngestReport = field(default_factory=IngestReport)
    error: SpeechQAError | None = None
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None

    @property
    def url(self) -> str:
        return f"/api/jobs/{self.id}"

    @property
    def ended(self) -> bool:
        return self.status in (DONE, FAILED, STOPPED)


class ChangeJobs:
    """The server's queue of change jobs and the one thread that runs them."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}  # oldest first
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def submit(self, files: tuple[str, ...], work: JobWork) -> Job:
        """Queue `work`; it runs after the jobs before it."""
        if self._stop.is_set():
            raise SpeechQAError("the server is stopping: send the upload again once it is back")
        job = Job("j-" + secrets.token_hex(8), files, work)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="speechqa-jobs", daemon=True)
                self._thread.start()
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no job with id {job_id!r}: it never existed, or ended long enough ago to be "
                                f"forgotten (the last {KEPT_JOBS} are kept, until the server stops)")
        return job

    def busy(self) -> bool:
        """Whether a job is queued or running: a change that comes meanwhile waits behind it as a job too."""
        with self._lock:
            return any(not job.ended for job in self._jobs.values())

    def stop(self, wait: float = 2.0) -> None:
        """Ask the running job to stop at its next document and drop the queued ones; wait at most `wait` s."""
        self._stop.set()
        self._queue.put(None)
        thread = self._thread
        if thread is not None:
            thread.join(wait)

    def _forget_old(self) -> None:
        ended = [job_id for job_id, job in self._jobs.items() if job.ended]
        for job_id in ended[: max(len(ended) - KEPT_JOBS, 0)]:
            del self._jobs[job_id]

    def _run(self) -> None:
        lower_thread_priority()  # searches have the CPU first
        while True:
            job = self._queue.get()
            if job is None or self._stop.is_set():
                if job is not None:
                    self._end(job, STOPPED)
                if self._stop.is_set():
                    self._drain()
                    return
                continue
            job.status, job.started = RUNNING, time.time()
            try:
                job.work(job.report, self._stop)
            except SpeechQAError as exc:
                job.error = exc
                self._end(job, FAILED)
            except Exception as exc:  # a job's failure must not stop the jobs after it
                log.exception("job %s failed", job.id)
                job.error = SpeechQAError(f"the job failed ({type(exc).__name__}); the error was logged. Documents "
                                          f"it reported as added are kept; send the rest again")
                self._end(job, FAILED)
            else:
                self._end(job, STOPPED if self._stop.is_set() else DONE)

    def _drain(self) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                self._end(job, STOPPED)

    def _end(self, job: Job, status: str) -> None:
        with self._lock:
            job.status, job.finished = status, time.time()


def needs_a_job(files: Sequence[tuple[str, bytes]], max_file_bytes: int) -> bool:
    """Whether an upload (name, contents) is large enough to be added by a job rather than at once."""
    from qa.ingest.readers.expansion import expanded_size

    total = 0
    for name, data in files:
        total += expanded_size(name, data, max_file_bytes)
        if total > JOB_BYTES:
            return True
    return False
