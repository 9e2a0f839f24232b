"""Pick and load the encoder the settings ask for."""

from __future__ import annotations

import logging

from embeddings.base import Encoder
from qa.settings import DEFAULT_MODEL, Settings

log = logging.getLogger(__name__)


def is_bundled(model: str) -> bool:
    from embeddings.bundled import BUNDLED_MODEL_NAME

    return model in (DEFAULT_MODEL, BUNDLED_MODEL_NAME)


def model_name(settings: Settings) -> str:
    """The name a collection records for the configured model (without loading it)."""
    from embeddings.bundled import BUNDLED_MODEL_NAME

    return BUNDLED_MODEL_NAME if is_bundled(settings.model) else settings.model


def load_encoder(settings: Settings) -> Encoder:
    from embeddings.st_encoder import SentenceTransformerEncoder, pick_device

    if not is_bundled(settings.model):
        return SentenceTransformerEncoder(settings.model, device=settings.device)

    from embeddings.bundled import BUNDLED_MODEL_NAME, ensure_bundled_model

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
