"""Any sentence-transformers model, by hub name or local path, on GPU when one is there."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from embeddings.base import Encoder, ProgressCallback

# On a GPU, small batches leave it idle between kernel launches.
GPU_MIN_BATCH = 256

E5_PROMPTS = {"query": "query: ", "passage": "passage: "}


def pick_device(requested: str | None) -> str:
    if requested:
        return requested
    if not cuda_driver_present():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def cuda_driver_present() -> bool:
    """Whether NVIDIA's driver library is on this machine, asked without importing torch.

    Importing torch only to hear "no GPU" would cost the CPU server about 400 MB of memory
    and two seconds of start-up; where the driver is present torch gives the real answer.
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
        from qa.errors import MissingDependencyError

        raise MissingDependencyError("sentence-transformers is not installed: pip install sentence-transformers") from exc
    try:
        return SentenceTransformer(model, device=device)
    except OSError as exc:
        from qa.errors import BadInputError

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
            # Half precision doubles GPU throughput; cosine agreement with fp32 stays above 0.999.
            self._model.half()
        self.name = name or model
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        self.max_tokens = int(self._model.max_seq_length or 512)
        self.prompts = prompts or self._model_prompts(self.name)
        self.tokenizer = self._model.tokenizer

    def _model_prompts(self, name: str) -> dict[str, str]:
        configured = {key: value for key, value in (self._model.prompts or {}).items() if key in ("query", "passage")}
        if configured:
            return configured
        # e5 models need their prefixes but older hub configs do not declare them.
        return dict(E5_PROMPTS) if "e5" in name.lower() else {}

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(self.prompts.get("query", "") + text, add_special_tokens=True)["input_ids"])

    def embed_batch(self, texts: Sequence[str], kind: str) -> np.ndarray:
        return self._forward(self._tokenize(texts, kind))

    def embed(self, texts: Sequence[str], kind: str, batch_size: int = 32, progress: ProgressCallback | None = None) -> np.ndarray:
        """Length-sorted batches, the next one tokenised on a thread while the model runs this one.

        The Rust tokenizer releases the GIL, so on a GPU tokenisation hides behind compute.
        Vectors come back as float32 whatever precision the model ran in, so a collection built
        on a GPU opens on a CPU machine.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.device.startswith("cuda"):
            batch_size = max(batch_size, GPU_MIN_BATCH)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        with ThreadPoolExecutor(max_workers=1) as tokenizer_thread:
            pending = tokenizer_thread.submit(self._tokenize, [texts[i] for i in batches[0]], kind)
            for number, rows in enumerate(batches):
                features = pending.result()
                if number + 1 < len(batches):
                    pending = tokenizer_thread.submit(self._tokenize, [texts[i] for i in batches[number + 1]], kind)
                out[rows] = self._forward(features)
                if progress:
                    progress(len(rows))
        return out

    def _tokenize(self, texts: Sequence[str], kind: str) -> dict:
        prompt = self.prompts.get(kind, "")
        # sentence-transformers 6 renamed tokenize to preprocess; 3.x-5.x only have tokenize.
        prepare = getattr(self._model, "preprocess", None) or self._model.tokenize
        return prepare([prompt + text for text in texts])

    def _forward(self, features: dict) -> np.ndarray:
        import torch

        with torch.inference_mode():
            moved = {key: value.to(self.device) if hasattr(value, "to") else value for key, value in features.items()}
            vectors = self._model(moved)["sentence_embedding"]
            vectors = torch.nn.functional.normalize(vectors.float(), dim=-1)
        return vectors.cpu().numpy()
