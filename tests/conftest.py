"""Shared fixtures: the sample speeches as a collection, a search service and a real server over it, each
built twice: with the real bundled model (`encoder`, `seed_collection_dir`, `server`, ...) and with the
character n-gram encoder (`fake_encoder`, `fake_seed_collection_dir`, `fake_server`, ...).

A test that needs the real model is marked `model`: those that use `encoder`, directly or through another
fixture, are marked here; those that load it some other way (a `speechqa` process with the default model)
carry the mark themselves, and any other in this process that tries to load it fails saying so.
`pytest -m "not model and not browser"` runs the rest, quickly and without the model installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).parents[1]
SEEDS = ROOT / "qa" / "sample_speeches"
# The fixture that loads the real model: every test that depends on it is marked `model`.
MODEL_FIXTURE = "encoder"
# The servers with the n-gram encoder, started in the background as the session begins (_fake_servers).
FAKE_SERVERS = ("fake_server", "fake_token_server")


@pytest.hookimpl(tryfirst=True)  # before -m selects by marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURE in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.model)
    # The quickstart, by far the longest module, runs first, so that the other workers share out the rest
    # meanwhile instead of waiting for it at the end. The modules that talk to a fake server run last, so
    # that the servers start while the others run.
    first = {item.parent for item in items if item.get_closest_marker("quickstart")}
    served = {item.parent for item in items if set(FAKE_SERVERS) & set(getattr(item, "fixturenames", ()))}
    items.sort(key=lambda item: (item.parent not in first, item.parent in served))


@pytest.fixture(autouse=True)
def _the_model_only_where_marked(request, monkeypatch):
    """In a test not marked `model`, loading the bundled model in this process fails with what to do."""
    if request.node.get_closest_marker("model"):
        return
    import embeddings.bundled

    def refuse(*args, **kwargs):
        pytest.fail(f"{request.node.nodeid} loads the bundled model: mark it `model`, or use the fake_* fixtures",
                    pytrace=False)

    monkeypatch.setattr(embeddings.bundled, "ensure_bundled_model", refuse)


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


def run_wide_dir(tmp_path_factory, name: str) -> Path:
    """A directory every worker of this pytest run shares (its own with a single process): what is
    built there once under a lock serves all of them, and a later run starts without it."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = tmp_path_factory.getbasetemp().parent / name  # the run's folder, above each worker's own
        shared.mkdir(exist_ok=True)
        return shared
    return tmp_path_factory.mktemp(name)


def built_once(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """`build(directory)` run by the first worker that asks, under a lock; the others wait, then reuse it."""
    from filelock import FileLock

    root = run_wide_dir(tmp_path_factory, "built")
    directory, done = root / name, root / f"{name}.done"
    with FileLock(root / f"{name}.lock"):
        if not done.exists():
            shutil.rmtree(directory, ignore_errors=True)  # a build that failed part way
            directory.mkdir()
            build(directory)
            done.touch()
    return directory


@pytest.fixture(scope="session")
def model_cache_dir(tmp_path_factory) -> Path:
    """Where the bundled model is converted: one directory for all of the run's workers, so the model is
    converted once a run (embeddings.publish builds under a lock); SPEECHQA_CACHE lets repeated local
    runs convert only once."""
    given = os.environ.get("SPEECHQA_CACHE")
    return Path(given) if given else run_wide_dir(tmp_path_factory, "cache")


@pytest.fixture(scope="session")
def settings_factory(model_cache_dir):
    from qa.settings import Settings

    def make(data_dir: Path, **overrides):
        return Settings.from_env({}, cache_dir=model_cache_dir, data_dir=data_dir, **overrides)

    return make


@pytest.fixture(scope="session")
def encoder(settings_factory, tmp_path_factory):
    """The real bundled model (converted on first use): the tests that use it are marked `model`."""
    from embeddings.loader import load_encoder

    return load_encoder(settings_factory(tmp_path_factory.mktemp("unused")))


@pytest.fixture(scope="session")
def fake_encoder():
    """The character n-gram encoder: deterministic, instant, no model needed."""
    from embeddings.char_ngrams import CharNgramEncoder

    return CharNgramEncoder()


@pytest.fixture
def fake_model(monkeypatch):
    """Settings naming the n-gram encoder (`model=CHAR_NGRAMS_MODEL`) load it in this process, until the test ends."""
    import embeddings.loader
    from tests.fakes import CHAR_NGRAMS_MODEL, char_ngrams_loader

    monkeypatch.setattr(embeddings.loader, "load_encoder", char_ngrams_loader(embeddings.loader.load_encoder))
    return CHAR_NGRAMS_MODEL


def ingest_seeds(directory: Path, encoder) -> Path:
    """The five sample speeches as a new collection in directory, indexes built and saved."""
    from qa.index.collection import Collection
    from qa.ingest.pipeline import Ingester

    collection = Collection.open(directory, encoder.name, create=True)
    report = Ingester(collection, encoder).add_paths([SEEDS], max_bytes=20 * 1024 * 1024)
    assert len(report.added) == 5, report
    collection.rebuild_indexes()
    collection.close()
    return directory


@pytest.fixture(scope="session")
def seed_collection_dir(tmp_path_factory, encoder) -> Path:
    """The five sample speeches ingested once a run; tests that change a collection work on a copy. Each
    worker opens its own copy of the one ingest, as two processes never share a collection here."""
    built = built_once(tmp_path_factory, "seed-collection", lambda directory: ingest_seeds(directory, encoder))
    return copy_of(built, tmp_path_factory, "seed-collection")


@pytest.fixture(scope="session")
def fake_seed_collection_dir(tmp_path_factory, fake_encoder) -> Path:
    """The five sample speeches ingested once a run with the n-gram encoder, a copy for each worker."""
    built = built_once(tmp_path_factory, "fake-seed-collection", lambda directory: ingest_seeds(directory, fake_encoder))
    return copy_of(built, tmp_path_factory, "fake-seed-collection")


@pytest.fixture
def seed_collection_copy(seed_collection_dir, tmp_path) -> Path:
    target = tmp_path / "collection"
    shutil.copytree(seed_collection_dir, target)
    return target


@pytest.fixture
def fake_seed_collection_copy(fake_seed_collection_dir, tmp_path) -> Path:
    target = tmp_path / "collection"
    shutil.copytree(fake_seed_collection_dir, target)
    return target


def open_service(directory: Path, encoder):
    from qa.index.collection import Collection
    from qa.search.service import SearchService

    return SearchService(Collection.open(directory, encoder.name), encoder)


@pytest.fixture(scope="session")
def seed_service(seed_collection_dir, encoder):
    return open_service(seed_collection_dir, encoder)


@pytest.fixture(scope="session")
def fake_seed_service(fake_seed_collection_dir, fake_encoder):
    return open_service(fake_seed_collection_dir, fake_encoder)


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


def speechqa_command(fake: bool = False) -> list[str]:
    """How a test starts `speechqa`: with the configured model, or with the n-gram encoder (`fake`, and
    SPEECHQA_MODEL from tests.fakes.char_ngrams_env)."""
    return [sys.executable, "-m", "tests.fakes" if fake else "qa.cli"]


class Server:
    """`speechqa serve` on loopback over data_dir, or over a Milvus `index`; `fake`: with the n-gram encoder
    (for a collection built with it). Ready when built, unless `wait=False`: then `ready()` waits."""

    def __init__(self, data_dir: Path, cache_dir: Path, token: str | None = None, log_dir: Path | None = None,
                 fake: bool = False, index: str | None = None, wait: bool = True):
        from tests.fakes import char_ngrams_env

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SPEECHQA_CACHE": str(cache_dir), "SPEECHQA_DATA": str(data_dir)}
        for name, value in (("SPEECHQA_TOKEN", token), ("SPEECHQA_INDEX", index)):
            env.pop(name, None)
            if value:
                env[name] = value
        if fake:
            env = char_ngrams_env(env)
        self.log = open((log_dir or data_dir.parent) / f"server-{self.port}.log", "wb")
        self.process = subprocess.Popen(
            [*speechqa_command(fake), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=str(ROOT),
        )
        self._started = time.monotonic()
        self._ready = False
        if wait:
            self.ready()

    def ready(self) -> Server:
        while not self._ready:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {Path(self.log.name).read_text(errors='replace')}")
            try:
                self._ready = httpx.get(self.url + "/healthz", timeout=2).status_code in (200, 503)
            except httpx.HTTPError:
                if time.monotonic() > self._started + 180:
                    raise RuntimeError("server did not start in 180 s") from None
                time.sleep(0.3)
        return self

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


def by_passage(collection_dir: Path, encoder, tmp_path_factory):
    """A copy of a collection scored by passage vectors alone, as the Milvus backend scores (it holds no
    sentence vectors): what a Milvus copy of that collection must rank like."""
    directory = copy_of(collection_dir, tmp_path_factory, "seeds-by-passage")
    rewrite_store(directory, "DELETE FROM sentence_vectors")
    return open_service(directory, encoder)


@pytest.fixture(scope="session")
def seed_service_by_passage(seed_collection_dir, encoder, tmp_path_factory):
    return by_passage(seed_collection_dir, encoder, tmp_path_factory)


@pytest.fixture(scope="session")
def fake_seed_service_by_passage(fake_seed_collection_dir, fake_encoder, tmp_path_factory):
    return by_passage(fake_seed_collection_dir, fake_encoder, tmp_path_factory)


@pytest.fixture(scope="module")
def server(seed_collection_dir, model_cache_dir, tmp_path_factory):
    """A real server on loopback over its own copy of the seed collection (no token)."""
    running = Server(copy_of(seed_collection_dir, tmp_path_factory, "server"), model_cache_dir)
    yield running
    running.stop()


@pytest.fixture
def one_ray_cluster_at_a_time(tmp_path_factory):
    """Held by a test that starts a local Ray cluster. Ray's `init()` without an address joins the newest
    cluster on the machine when there is one, so two such tests at once on two workers would share a
    cluster, and one test's kill -9 would stop the other's ingest."""
    from filelock import FileLock

    with FileLock(tmp_path_factory.getbasetemp().parent / "ray-cluster.lock"):
        yield


@pytest.fixture(scope="session", autouse=True)
def _fake_servers(request, model_cache_dir, tmp_path_factory):
    """The servers with the n-gram encoder that the session's tests use, started in the background as it
    begins: each spends seconds starting, which the tests before the first to use one do not wait for."""
    used = {name for item in request.session.items for name in getattr(item, "fixturenames", ())}
    servers = {}
    for name, token in zip(FAKE_SERVERS, (None, "secret"), strict=True):
        if name in used:
            collection = copy_of(request.getfixturevalue("fake_seed_collection_dir"), tmp_path_factory, name)
            servers[name] = Server(collection, model_cache_dir, fake=True, token=token, wait=False)
    yield servers
    for running in servers.values():
        running.stop()


@pytest.fixture(scope="session")
def fake_server(_fake_servers, fake_seed_collection_dir, model_cache_dir, tmp_path_factory):
    """`server` with the n-gram encoder, over a copy of fake_seed_collection_dir. Started once for every
    module that uses it, so each test leaves its collection as it found it."""
    if "fake_server" not in _fake_servers:  # asked for by name (request.getfixturevalue)
        _fake_servers["fake_server"] = Server(copy_of(fake_seed_collection_dir, tmp_path_factory, "fake_server"),
                                              model_cache_dir, fake=True, wait=False)
    return _fake_servers["fake_server"].ready()


@pytest.fixture(scope="module")
def token_server(seed_collection_dir, model_cache_dir, tmp_path_factory):
    """A real server on loopback that needs `Authorization: Bearer secret` for changes (SPEECHQA_TOKEN=secret)."""
    running = Server(copy_of(seed_collection_dir, tmp_path_factory, "token-server"), model_cache_dir, token="secret")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def fake_token_server(_fake_servers, fake_seed_collection_dir, model_cache_dir, tmp_path_factory):
    """`token_server` with the n-gram encoder, shared like `fake_server`."""
    if "fake_token_server" not in _fake_servers:
        _fake_servers["fake_token_server"] = Server(copy_of(fake_seed_collection_dir, tmp_path_factory, "fake_token_server"),
                                                    model_cache_dir, token="secret", fake=True, wait=False)
    return _fake_servers["fake_token_server"].ready()


@pytest.fixture(scope="module")
def seed_service_copy(seed_collection_dir, encoder, tmp_path_factory):
    """An in-process search service over its own copy of the seed collection, for apps under TestClient."""
    service = open_service(copy_of(seed_collection_dir, tmp_path_factory, "service-copy"), encoder)
    yield service
    service.collection.close()


@pytest.fixture(scope="module")
def fake_seed_service_copy(fake_seed_collection_dir, fake_encoder, tmp_path_factory):
    """`seed_service_copy` with the n-gram encoder."""
    service = open_service(copy_of(fake_seed_collection_dir, tmp_path_factory, "service-copy"), fake_encoder)
    yield service
    service.collection.close()
