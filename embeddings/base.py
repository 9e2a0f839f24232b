"""The encoder interface: a model tokenises and runs one batch; batching lives here once.

Like llm's ``EmbeddingModel``, the base class cuts the texts into batches and a model only embeds
one batch, in its two halves (`tokenize`, `forward`) so that the next batch is tokenised on a thread
while this one runs. What really differs between backends is a `Batching`: a token budget per batch,
a floor on the batch size, how many batches compute at once.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import numpy as np

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class Batching:
    """How `Encoder.embed` cuts texts into batches and runs them."""

    token_budget: int | None = None  # most padded tokens per batch (rows x longest row); None: batch_size alone
    min_batch: int = 1  # batch_size is raised to at least this
    workers: int = 1  # batches computed at once, each on its own thread
    window: int = 2048  # texts whose tokens are counted at a time, so memory stays bounded


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class Encoder(ABC):
    """Turns texts into L2-normalised float32 vectors.

    `name` identifies the model (its vectors are interchangeable whatever the backend),
    `dim` is the vector size, `max_tokens` the most the model reads at once, and `prompts`
    what goes before a text of each kind ("query", "passage").
    """

    name: str
    dim: int
    max_tokens: int = 512
    backend: str = "?"
    device: str = "cpu"
    prompts: dict[str, str] = {}
    batching: Batching = Batching()

    @abstractmethod
    def tokenize(self, texts: Sequence[str], kind: str) -> Any:
        """The model's inputs for one batch, each text with the prompt of its kind."""

    @abstractmethod
    def forward(self, inputs: Any) -> np.ndarray:
        """Run the model on one batch's inputs: L2-normalised float32 vectors, one row per text."""

    def token_counts(self, texts: Sequence[str], kind: str) -> list[int]:
        """Tokens the model would read for each text, prompt included, before truncation.

        An estimate here; encoders with a tokenizer answer exactly.
        """
        return [int(len(text) * 0.8) + 8 for text in texts]

    def count_tokens(self, text: str) -> int:
        return self.token_counts([text], "query")[0]

    def embed_batch(self, texts: Sequence[str], kind: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.forward(self.tokenize(texts, kind))

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_batch([text], "query")[0]

    def embed(self, texts: Sequence[str], kind: str, batch_size: int = 32, progress: ProgressCallback | None = None) -> np.ndarray:
        """Embed any number of texts in length-sorted batches; rows come back in the order given.

        Vectors are float32 whatever precision the model ran in, so a collection built on a GPU
        opens on a CPU machine.
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        batches = self._batches(texts, kind, max(1, batch_size, self.batching.min_batch))
        rows = next(batches, None)
        if rows is None:
            return out
        running: dict[Future, list[int]] = {}

        def collect(done: set[Future]) -> None:
            for future in [future for future in running if future in done]:  # in the order submitted
                finished = running.pop(future)
                out[finished] = future.result()
                if progress:
                    progress(len(finished))

        # The tokenizers (Rust) release the GIL, so tokenising the next batch hides behind the model.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenize") as tokenizer, \
                ThreadPoolExecutor(max_workers=self.batching.workers, thread_name_prefix="embed") as runners:
            pending = tokenizer.submit(self.tokenize, [texts[i] for i in rows], kind)
            while rows is not None:
                inputs = pending.result()
                following = next(batches, None)
                if following is not None:
                    pending = tokenizer.submit(self.tokenize, [texts[i] for i in following], kind)
                running[runners.submit(self.forward, inputs)] = rows
                # One batch more than there are workers waits in the queue, so no worker idles while
                # this thread wakes up to hand it the next.
                if len(running) > self.batching.workers:
                    collect(wait(running, return_when=FIRST_COMPLETED).done)
                rows = following
            collect(wait(running).done)
        return out

    def _batches(self, texts: Sequence[str], kind: str, batch_size: int) -> Iterator[list[int]]:
        """Row numbers of each batch: similar lengths together, so little compute goes on padding."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        budget = self.batching.token_budget
        if budget is None:
            for start in range(0, len(order), batch_size):
                yield order[start : start + batch_size]
            return
        # Sorting by characters groups similar token counts; each window is then sorted exactly.
        for start in range(0, len(order), self.batching.window):
            window = order[start : start + self.batching.window]
            counts = self.token_counts([texts[i] for i in window], kind)
            lengths = {row: min(count, self.max_tokens) for row, count in zip(window, counts, strict=True)}
            yield from _token_batches(sorted(window, key=lengths.__getitem__), lengths, budget, batch_size)


def _token_batches(rows: list[int], lengths: dict[int, int], budget: int, max_rows: int) -> Iterator[list[int]]:
    """Split rows of ascending length into consecutive batches whose padded size stays within budget."""
    batch: list[int] = []
    for row in rows:
        # Lengths ascend, so the newest row sets the padded width of the batch.
        if batch and ((len(batch) + 1) * lengths[row] > budget or len(batch) >= max_rows):
            yield batch
            batch = []
        batch.append(row)
    if batch:
        yield batch
