"""Shared fixtures: the real bundled model, a real collection built from the sample speeches, a real server."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).parents[1]
SEEDS = ROOT / "qa" / "sample_speeches"


def paragraph_files(folder: Path) -> int:
    """One small file per long paragraph of the sample speeches: many documents, few passages each."""
    folder.mkdir()
    n = 0
    for seed in sorted(SEEDS.glob("*.txt")):
        for line in seed.read_text(encoding="utf-8").splitlines():
            if len(line) >= 120 and "下载" not in line and "導語" not in line:
                (folder / f"p{n:03d}.txt").write_text(f"段落{n}\n{line}\n", encoding="utf-8")
                n += 1
    return n


def documents_in(data: Path) -> int:
    """Documents a collection's store holds as another process sees it; -1 while it has no store or schema yet."""
    path = data / "speechqa.sqlite"
    if not path.exists():
        return -1
    try:
        with sqlite3.connect(path, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not there yet
        return -1


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
    from qa.index.collection import Collection
    from qa.ingest.pipeline import Ingester

    directory = tmp_path_factory.mktemp("seed-collection")
    collection = Collection.open(directory, encoder.name, create=True)
    report = Ingester(collection, encoder).add_paths([SEEDS], max_bytes=20 * 1024 * 1024)
    assert len(report.added) == 5, report
    collection.rebuild_indexes()
    collection.close()
    return directory


@pytest.fixture
def seed_collection_copy(seed_collection_dir, tmp_path) -> Path:
    target = tmp_path / "collection"
    shutil.copytree(seed_collection_dir, target)
    return target


@pytest.fixture(scope="session")
def seed_service(seed_collection_dir, encoder):
    from qa.index.collection import Collection
    from qa.search.service import SearchService

    return SearchService(Collection.open(seed_collection_dir, encoder.name), encoder)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen, log) -> None:
    """End a server process started by a test (killed if it does not stop within 10 s) and close its log."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


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
        stop_process(self.process, self.log)


def rewrite_store(collection_dir: Path, *statements: str) -> None:
    """Run these SQL statements on a collection's store: how a test makes it what an older speechqa left."""
    with sqlite3.connect(collection_dir / "speechqa.sqlite") as db:
        for statement in statements:
            db.execute(statement)
    db.close()


def copy_of(collection_dir: Path, tmp_path_factory, name: str) -> Path:
    """A private copy of a collection, so a test that changes it leaves the others' alone."""
    data = tmp_path_factory.mktemp(name) / "collection"
    shutil.copytree(collection_dir, data)
    return data


@pytest.fixture(scope="session")
def seed_service_by_passage(seed_collection_dir, encoder, tmp_path_factory):
    """The seed collection scored by passage vectors alone, as the Milvus backend scores (it holds no
    sentence vectors): what a Milvus copy of the seed collection must rank like."""
    from qa.index.collection import Collection
    from qa.search.service import SearchService

    directory = copy_of(seed_collection_dir, tmp_path_factory, "seeds-by-passage")
    rewrite_store(directory, "DELETE FROM sentence_vectors")
    return SearchService(Collection.open(directory, encoder.name), encoder)


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
    from qa.index.collection import Collection
    from qa.search.service import SearchService

    collection = Collection.open(copy_of(seed_collection_dir, tmp_path_factory, "service-copy"), encoder.name)
    yield SearchService(collection, encoder)
    collection.close()
