"""Shared fixtures: the real bundled model, a real collection built from the sample speeches, a real server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).parents[1]
SEEDS = ROOT / "qa" / "sample_speeches"


@pytest.fixture(scope="session")
def model_cache_dir(tmp_path_factory) -> Path:
    """Where the bundled model is converted; SPEECHQA_CACHE lets repeated local runs convert only once."""
    given = os.environ.get("SPEECHQA_CACHE")
    return Path(given) if given else tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def settings_factory(model_cache_dir):
    from qa.settings import Settings

    def make(data_dir: Path, **overrides):
        return Settings.from_env({}, cache_dir=model_cache_dir, data_dir=data_dir, **overrides)

    return make


@pytest.fixture(scope="session")
def encoder(settings_factory, tmp_path_factory):
    from embeddings.loader import load_encoder

    return load_encoder(settings_factory(tmp_path_factory.mktemp("unused")))


@pytest.fixture(scope="session")
def seed_collection_dir(tmp_path_factory, settings_factory, encoder) -> Path:
    """The five sample speeches ingested once; tests that change a collection work on a copy."""
    from qa.collection import Collection
    from qa.ingest import Ingester

    directory = tmp_path_factory.mktemp("seed-collection")
    collection = Collection.open(directory, encoder.name, create=True)
    report = Ingester(collection, encoder).add_paths([SEEDS], max_bytes=20 * 1024 * 1024)
    assert len(report.added) == 5, report
    collection.rebuild_indexes(encoder.dim)
    collection.close()
    return directory


@pytest.fixture
def seed_collection_copy(seed_collection_dir, tmp_path) -> Path:
    target = tmp_path / "collection"
    shutil.copytree(seed_collection_dir, target)
    return target


@pytest.fixture(scope="session")
def seed_service(seed_collection_dir, encoder):
    from qa.collection import Collection
    from qa.search import SearchService

    return SearchService(Collection.open(seed_collection_dir, encoder.name), encoder)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path, cache_dir: Path, token: str | None = None, log_dir: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SPEECHQA_CACHE": str(cache_dir), "SPEECHQA_DATA": str(data_dir)}
        env.pop("SPEECHQA_TOKEN", None)
        if token:
            env["SPEECHQA_TOKEN"] = token
        self.log = open((log_dir or data_dir.parent) / f"server-{self.port}.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=str(ROOT),
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {Path(self.log.name).read_text(errors='replace')}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise RuntimeError("server did not start in 180 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def copy_of(collection_dir: Path, tmp_path_factory, name: str) -> Path:
    """A private copy of a collection, so a test that changes it leaves the others' alone."""
    data = tmp_path_factory.mktemp(name) / "collection"
    shutil.copytree(collection_dir, data)
    return data


@pytest.fixture(scope="module")
def server(seed_collection_dir, model_cache_dir, tmp_path_factory):
    """A real server on loopback over its own copy of the seed collection (no token)."""
    running = Server(copy_of(seed_collection_dir, tmp_path_factory, "server"), model_cache_dir)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def token_server(seed_collection_dir, model_cache_dir, tmp_path_factory):
    """A real server on loopback that needs `Authorization: Bearer secret` for changes (SPEECHQA_TOKEN=secret)."""
    running = Server(copy_of(seed_collection_dir, tmp_path_factory, "token-server"), model_cache_dir, token="secret")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def seed_service_copy(seed_collection_dir, encoder, tmp_path_factory):
    """An in-process search service over its own copy of the seed collection, for apps under TestClient."""
    from qa.collection import Collection
    from qa.search import SearchService

    collection = Collection.open(copy_of(seed_collection_dir, tmp_path_factory, "service-copy"), encoder.name)
    yield SearchService(collection, encoder)
    collection.close()
