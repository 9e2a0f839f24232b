"""Which files a list of paths names: folders walked in sorted order, and why each skipped entry is skipped."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from qa.ingest.readers.sources import display_name
from qa.types import Rejection


def find_inputs(paths: Iterable[Path]) -> Iterator[Path | Rejection]:
    """Files named by ``paths``, walking folders recursively in sorted order, and a ``Rejection``
    for every entry of a folder that is skipped, saying why.

    Hidden entries (name starting with ".") inside a folder are skipped: a hidden file or folder
    is reported once, what is inside a hidden folder is not. So are symlinks that lead nowhere or
    to a folder (never followed, so a loop cannot recur), fifos, sockets and devices. A path given
    explicitly is always yielded, even when it does not exist, so that ``read_path`` can report it.
    """
    seen: set[Path] = set()
    for path in paths:
        path = Path(path)
        candidates = sorted(_walk(path)) if path.is_dir() else [(path, None)]
        for candidate, reason in candidates:
            if candidate not in seen:
                seen.add(candidate)
                yield candidate if reason is None else Rejection(display_name(candidate), reason)


def discover_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The files of ``find_inputs``, without the skipped entries."""
    return (found for found in find_inputs(paths) if isinstance(found, Path))


def _walk(folder: Path) -> Iterator[tuple[Path, str | None]]:
    for entry in folder.rglob("*"):
        parts = entry.relative_to(folder).parts
        if any(part.startswith(".") for part in parts[:-1]):
            continue  # inside a hidden folder, which is reported itself
        if parts[-1].startswith("."):
            kind = "folder" if entry.is_dir() and not entry.is_symlink() else "file"
            yield entry, (f"hidden {kind} (its name starts with '.'): skipped; rename it, or name it "
                          "on the command line, to ingest it")
            continue
        if entry.is_dir() and not entry.is_symlink():
            continue  # walked
        yield entry, not_a_file(entry)


def not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file (None when it is a regular file or a symlink to one)."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return "file not found; check the path"
    except OSError as exc:
        return f"cannot open: {exc.strerror or exc}"
    if stat.S_ISLNK(mode):
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            return f"a dangling symlink (its target {display_name(os.readlink(path))} does not exist): skipped"
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return "a symlink loop (the link leads back to itself): skipped; remove or fix the link"
            return f"a symlink that cannot be followed ({exc.strerror or exc}): skipped"
        if stat.S_ISDIR(mode):
            return ("a symlink to a folder: skipped (links to folders are not followed, so that a loop cannot "
                    "recur); name the folder itself to ingest it")
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder, not a file; name the folder itself to ingest what it holds"
    kind = "a named pipe (fifo)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"{kind}, not a regular file: skipped; copy the document into a file to ingest it"

