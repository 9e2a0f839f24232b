"""A collection's manifest.json: which index files hold which store version, read and written whole."""

from __future__ import annotations

import json
import os
from pathlib import Path

MANIFEST = "manifest.json"


def read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError:  # written atomically, so only a hand-edited file is broken: rebuild from the store
        return {}


def write_json_atomic(path: Path, data: dict) -> None:
    """Write under a temporary name, flush it to disk, then rename it over `path`: a reader sees old or new, whole."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
