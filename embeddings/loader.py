"""Pick and load the encoder the settings ask for."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from embeddings.base import Encoder
from embeddings.bundled import BUNDLED_MODEL_NAME, DEFAULT_MODEL


class EncoderSettings(Protocol):
    """What choosing an encoder reads from the caller's settings (qa.settings.Settings has these)."""

    @property
    def model(self) -> str: ...  # a sentence-transformers name or path, or DEFAULT_MODEL

    @property
    def backend(self) -> str: ...  # "auto", "onnx" or "torch"

    @property
    def device(self) -> str | None: ...  # None picks cuda when present

    @property
    def cache_dir(self) -> Path: ...  # converted models go under cache_dir / "models"


def is_bundled(model: str) -> bool:
    return model in (DEFAULT_MODEL, BUNDLED_MODEL_NAME)


def model_name(settings: EncoderSettings) -> str:
    """The name a collection records for the configured model (without loading it)."""
    return BUNDLED_MODEL_NAME if is_bundled(settings.model) else settings.model


def load_encoder(settings: EncoderSettings) -> Encoder:
    from embeddings.st_encoder import SentenceTransformerEncoder, pick_device

    if not is_bundled(settings.model):
        return SentenceTransformerEncoder(settings.model, device=settings.device)

    from embeddings.bundled import ensure_bundled_model

    path = ensure_bundled_model(settings.cache_dir / "models")
    device = pick_device(settings.device)
    if settings.backend in ("auto", "onnx") and device == "cpu":
        try:
            from embeddings.onnx_encoder import OnnxEncoder
        except ImportError:
            if settings.backend == "onnx":
                raise
        else:
            return OnnxEncoder.from_sentence_transformer_dir(path, name=BUNDLED_MODEL_NAME, cache_dir=settings.cache_dir / "models")
    return SentenceTransformerEncoder(str(path), name=BUNDLED_MODEL_NAME, device=device)
