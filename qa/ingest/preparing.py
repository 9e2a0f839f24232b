"""Uploads read and prepared in a process of their own, for the server's change jobs.

Parsing a page, cleaning and converting megabytes of text run in C for seconds at a time, holding the
interpreter lock: in the server's own process every request would wait for them (its health check
too). In a child process of lower priority they hold nothing of the server's; what comes back is what
the ingester writes, a few documents at a time, and stopping the job ends the child at once.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection

from qa.errors import SpeechQAError
from qa.index.contract import ChunkingSettings
from qa.ingest.pipeline import PreparedDocument, prepare_record
from qa.types import Rejection

# Prepared documents sent back at a time: few, so that the child is never far ahead of what is written
# (a pipe holds little; the child waits while the server writes).
_BATCH = 16
_POLL_S = 0.2


def prepared_uploads(files: Sequence[tuple[str, bytes]], max_bytes: int, chunking: ChunkingSettings,
                     stop: threading.Event | None = None) -> Iterator[PreparedDocument | Rejection]:
    """The records of uploaded files (name, contents), each prepared (qa.ingest.pipeline.prepare), in order.

    Ends early, the child stopped, once `stop` is set or the caller stops reading.
    """
    # spawn, not fork: the server holds model and tokenizer threads that a fork would copy mid-lock.
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(target=_prepare_uploads, args=(sending, list(files), max_bytes, chunking),
                            name="speechqa-prepare", daemon=True)
    child.start()
    sending.close()
    try:
        while stop is None or not stop.is_set():
            if not receiving.poll(_POLL_S):
                if not child.is_alive() and not receiving.poll():
                    raise SpeechQAError(f"the process that reads the upload stopped (exit code {child.exitcode}) "
                                        "before it was read whole; documents reported as added are kept")
                continue
            try:
                batch = receiving.recv()
            except EOFError:
                continue  # the child is gone: the next turn says so
            if batch is None:
                return
            yield from batch
    finally:
        receiving.close()
        if child.is_alive():
            child.terminate()
        child.join(5)


def _prepare_uploads(sending: Connection, files: list[tuple[str, bytes]], max_bytes: int,
                     chunking: ChunkingSettings) -> None:
    from qa.ingest.readers import read_named

    os.nice(10)  # the server's requests have the CPU first
    batch: list[PreparedDocument | Rejection] = []
    for name, data in files:
        for record in read_named(name, data, max_bytes=max_bytes):
            batch.append(prepare_record(record, chunking))
            if len(batch) >= _BATCH:
                sending.send(batch)
                batch = []
    sending.send(batch)
    sending.send(None)
    sending.close()
