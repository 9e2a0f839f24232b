"""embeddings/loader.py: the encoder the settings name, chosen without the layer above (qa/)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from fresh_interpreter import modules_imported

from embeddings.bundled import BUNDLED_MODEL_NAME
from embeddings.loader import DEFAULT_MODEL, is_bundled, model_name
from qa.settings import Settings


def test_the_default_model_is_recorded_as_the_bundled_model():
    assert Settings.from_env({}, data_dir=Path("d")).model == DEFAULT_MODEL == "default"
    assert is_bundled(DEFAULT_MODEL) and is_bundled(BUNDLED_MODEL_NAME) and not is_bundled("BAAI/bge-m3")
    assert model_name(SimpleNamespace(model=DEFAULT_MODEL)) == BUNDLED_MODEL_NAME == "intfloat/multilingual-e5-small"
    assert model_name(SimpleNamespace(model="/models/bge-m3")) == "/models/bge-m3"


def test_encoders_load_and_embed_without_importing_qa(encoder, model_cache_dir):
    """Any object with model, backend, device and cache_dir will do: embeddings/ never imports qa/."""
    assert modules_imported(
        "from types import SimpleNamespace\n"
        "import embeddings.cross_encoder, embeddings.onnx_encoder, embeddings.st_encoder\n"
        "from embeddings.loader import load_encoder\n"
        f"settings = SimpleNamespace(model='default', backend='auto', device='cpu', cache_dir=Path({str(model_cache_dir)!r}))\n"
        "encoder = load_encoder(settings)",
        ("qa",),
    ) == []


def test_the_default_cpu_encoder_loads_without_torch(encoder, model_cache_dir):
    """On a machine without NVIDIA's driver, torch is never imported just to hear there is no GPU."""
    from embeddings.st_encoder import cuda_driver_present

    if cuda_driver_present():
        pytest.skip("this machine has a CUDA driver: torch is asked which device to use")
    assert modules_imported(
        "from qa.settings import Settings\n"
        "from embeddings.loader import load_encoder\n"
        f"encoder = load_encoder(Settings.from_env({{}}, cache_dir=Path({str(model_cache_dir)!r}), data_dir=Path('unused')))\n"
        "assert encoder.backend == 'onnx-int8' and encoder.device == 'cpu'",
        ("torch", "transformers", "sentence_transformers"),
    ) == []
