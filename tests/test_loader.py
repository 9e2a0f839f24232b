"""embeddings/loader.py: the encoder the settings name, chosen without the layer above (qa/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from embeddings.bundled import BUNDLED_MODEL_NAME
from embeddings.loader import DEFAULT_MODEL, is_bundled, model_name
from qa.settings import Settings

ROOT = Path(__file__).parents[1]


def test_the_default_model_is_recorded_as_the_bundled_model():
    assert Settings.from_env({}, data_dir=Path("d")).model == DEFAULT_MODEL == "default"
    assert is_bundled(DEFAULT_MODEL) and is_bundled(BUNDLED_MODEL_NAME) and not is_bundled("BAAI/bge-m3")
    assert model_name(SimpleNamespace(model=DEFAULT_MODEL)) == BUNDLED_MODEL_NAME == "intfloat/multilingual-e5-small"
    assert model_name(SimpleNamespace(model="/models/bge-m3")) == "/models/bge-m3"


def test_encoders_load_and_embed_without_importing_qa(encoder, model_cache_dir):
    """Any object with model, backend, device and cache_dir will do: embeddings/ never imports qa/."""
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from types import SimpleNamespace\n"
        "import embeddings.cross_encoder, embeddings.onnx_encoder, embeddings.st_encoder\n"
        "from embeddings.loader import load_encoder\n"
        f"settings = SimpleNamespace(model='default', backend='auto', device='cpu', cache_dir=Path({str(model_cache_dir)!r}))\n"
        "assert load_encoder(settings).embed_query('乡村振兴').shape == (384,)\n"
        "print(sorted(m for m in sys.modules if m == 'qa' or m.startswith('qa.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
