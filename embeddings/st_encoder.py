"""Any sentence-transformers model, by hub name or local path, on GPU when one is there."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from embeddings.base import Batching, Encoder
from embeddings.errors import BadInputError, MissingDependencyError
from embeddings.prompts import model_prompts

# On a GPU, small batches leave it idle between kernel launches.
GPU_MIN_BATCH = 256


def pick_device(requested: str | None) -> str:
    if requested:
        return requested
    if not cuda_driver_present():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def cuda_driver_present() -> bool:
    """Whether NVIDIA's driver library is on this machine, asked without importing torch.

    Importing torch only to hear "no GPU" would cost the CPU server hundreds of megabytes of memory
    and seconds of start-up; where the driver is present torch gives the real answer.
    """
    import ctypes
    import ctypes.util

    for name in ("libcuda.so.1", "libcuda.so", ctypes.util.find_library("cuda"), "nvcuda.dll"):
        if not name:
            continue
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return True
    return False


def _load_sentence_transformer(model: str, device: str):
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise MissingDependencyError("sentence-transformers is not installed: pip install sentence-transformers") from exc
    try:
        return SentenceTransformer(model, device=device)
    except OSError as exc:
        raise BadInputError(
            f"cannot load model {model!r}: {exc}. Give a sentence-transformers model name the hub knows, "
            "or a local directory holding one."
        ) from exc


class SentenceTransformerEncoder(Encoder):
    backend = "torch"

    def __init__(self, model: str, *, name: str | None = None, device: str | None = None,
                 prompts: dict[str, str] | None = None) -> None:
        self.device = pick_device(device)
        self._model = _load_sentence_transformer(model, self.device)
        if self.device.startswith("cuda"):
            # Half precision runs much faster on a GPU and agrees closely with fp32 (scripts/bench.py --embed --fp32-subset).
            self._model.half()
            self.batching = Batching(min_batch=GPU_MIN_BATCH)
        self.name = name or model
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self.max_tokens = int(self._model.max_seq_length or 512)
        self.prompts = prompts or model_prompts(self.name, self._model.prompts)
        self.tokenizer = self._model.tokenizer

    def token_counts(self, texts: Sequence[str], kind: str) -> list[int]:
        prompt = self.prompts.get(kind, "")
        return [len(ids) for ids in self.tokenizer([prompt + text for text in texts], add_special_tokens=True)["input_ids"]]

    def tokenize(self, texts: Sequence[str], kind: str) -> dict:
        prompt = self.prompts.get(kind, "")
        # sentence-transformers 6 renamed tokenize to preprocess; 3.x-5.x only have tokenize.
        prepare = getattr(self._model, "preprocess", None) or self._model.tokenize
        return prepare([prompt + text for text in texts])

    def forward(self, inputs: dict) -> np.ndarray:
        import torch

        with torch.inference_mode():
            moved = {key: value.to(self.device) if hasattr(value, "to") else value for key, value in inputs.items()}
            vectors = self._model(moved)["sentence_embedding"]
            vectors = torch.nn.functional.normalize(vectors.float(), dim=-1)
        return vectors.cpu().numpy()
