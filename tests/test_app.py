"""The composition root (qa/app.py): what a server process is set up with before it serves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.app import searches_at_once
from qa.settings import Settings

ROOT = Path(__file__).parents[1]

# Eight threads alive at once, each allocating from the C heap (buffers over pymalloc's limit), then the
# number of heaps glibc made, from malloc_info's <heap nr=...> entries.
HEAPS_AFTER_EIGHT_THREADS = """
import ctypes, sys, threading
from qa.app import limit_heap_arenas
if sys.argv[1] == "limit":
    assert limit_heap_arenas(2)
together = threading.Barrier(8)
def allocate():
    held = [bytearray(4096) for _ in range(64)]
    together.wait()
    held.clear()
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc = ctypes.CDLL("libc.so.6")
libc.open_memstream.restype = ctypes.c_void_p
buffer, size = ctypes.c_char_p(), ctypes.c_size_t()
stream = libc.open_memstream(ctypes.byref(buffer), ctypes.byref(size))
libc.malloc_info(0, ctypes.c_void_p(stream))
libc.fclose(ctypes.c_void_p(stream))
print(buffer.value.count(b"<heap nr="))
"""


def _heaps(mode: str) -> int:
    env = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}
    done = subprocess.run([sys.executable, "-c", HEAPS_AFTER_EIGHT_THREADS, mode], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the heap limit is glibc's")
def test_a_limited_process_keeps_no_more_heaps_than_it_searches_at_once():
    assert _heaps("limit") <= 2
    assert _heaps("default") > 2  # each thread its own heap, as a server's request threads had


def test_a_server_searches_as_many_at_once_as_set_else_one_per_core():
    from embeddings.base import available_cores

    assert searches_at_once(Settings.from_env({}, data_dir=Path("/d"), cache_dir=Path("/c"), concurrent_searches=3)) == 3
    assert searches_at_once(Settings.from_env({}, data_dir=Path("/d"), cache_dir=Path("/c"))) == available_cores()
