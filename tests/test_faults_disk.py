"""A full disk (issue 25, item 3): changes are refused with 507 and the reason, the CLI says so in one line, and
a server starts on the full disk and answers searches; once there is space again, changes go in."""

from __future__ import annotations

import errno
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import hostile_files as hostile
from tests.conftest import Server
from tests.fault_watch import MB, SPEECH, assert_no_traceback, document_count, final_report, send, speechqa

pytestmark = pytest.mark.faults


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 64 MB tmpfs, unmounted at the end (root only: elsewhere the test is skipped)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.strip()}); test_a_store_that_cannot_grow_is_refused_like_a_full_disk stands in")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of the disk; returns the filler, whose removal frees them."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out:  # unbuffered: closing it must not flush what did not fit
        for size in (MB, 4096, 1):
            try:
                while True:
                    out.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


DISK_FULL = "the disk holding the collection is full"


def test_a_full_disk_refuses_changes_plainly_and_the_server_starts_on_it(fake_seed_collection_dir, model_cache_dir,
                                                                          small_disk, tmp_path):
    data = small_disk / "collection"
    shutil.copytree(fake_seed_collection_dir, data)
    server = Server(data, model_cache_dir, log_dir=tmp_path, fake=True)
    try:
        first = final_report(server.url, [("before.txt", SPEECH.encode())])
        assert len(first["added"]) == 1
        filler = fill(small_disk)
        refused = send(server.url, [("during.txt", hostile.distinct_speech(1).encode())])
        assert refused.status_code == 507, refused.text
        assert DISK_FULL in refused.json()["error"]["message"]
        deleted = httpx.delete(f"{server.url}/api/documents/{first['added'][0]}", timeout=30)
        assert deleted.status_code == 507 and DISK_FULL in deleted.json()["error"]["message"]
        assert httpx.get(server.url + "/api/search", params={"q": "营商环境"}, timeout=30).status_code == 200
        (tmp_path / "more").mkdir()
        (tmp_path / "more" / "cli.txt").write_text(hostile.distinct_speech(2), encoding="utf-8")
        ingest = speechqa("ingest", str(tmp_path / "more"), data=data, cache=model_cache_dir)
        assert ingest.returncode != 0
        assert_no_traceback(ingest)
        assert ingest.stderr.strip().splitlines()[-1].startswith(f"error: {DISK_FULL}"), ingest.stderr
        server.process.kill()
        server.process.wait()
        server.log.close()
        # The killed server's working files (its copy of the sentence vectors) gave their space back:
        # take it again, so that the next server starts on a disk as full as the first left it.
        fill(small_disk)

        server = Server(data, model_cache_dir, log_dir=tmp_path, fake=True)  # on the full disk
        health = httpx.get(server.url + "/healthz", timeout=10)
        assert health.status_code == 200 and health.json()["documents"] == 6, health.text
        assert httpx.get(server.url + "/api/search", params={"q": "营商环境"}, timeout=30).status_code == 200
        again = send(server.url, [("during.txt", hostile.distinct_speech(1).encode())])
        assert again.status_code == 507 and DISK_FULL in again.json()["error"]["message"]

        filler.unlink()
        after = final_report(server.url, [("after.txt", hostile.distinct_speech(3).encode())])
        assert len(after["added"]) == 1
        assert document_count(server.url) == 7
        assert httpx.get(f"{server.url}/api/documents/{first['added'][0]}", timeout=10).status_code == 200
    finally:
        if server.process.poll() is None:
            server.stop()


def test_a_store_that_cannot_grow_is_refused_like_a_full_disk(settings_factory, fake_seed_collection_copy, fake_encoder):
    """Where no tmpfs can be mounted, this is the full disk: SQLite's own SQLITE_FULL, from a store that may not
    grow (max_page_count), on the API and the upload page, while searches go on."""
    from fastapi.testclient import TestClient

    from tests.conftest import open_service
    from web.app import create_app

    service = open_service(fake_seed_collection_copy, fake_encoder)
    store = service.collection.store._db
    try:
        store.execute(f"PRAGMA max_page_count = {store.execute('PRAGMA page_count').fetchone()[0]}")
        app = create_app(settings_factory(fake_seed_collection_copy), service=service)
        with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
            upload = [("files", ("full.txt", hostile.distinct_speech(4).encode(), "text/plain"))]
            refused = client.post("/api/documents", files=upload)
            assert refused.status_code == 507, refused.text
            error = refused.json()["error"]
            assert error["code"] == "disk_full" and error["message"].startswith(DISK_FULL)
            assert "<data directory>" in error["message"]  # the server's folders are not shown
            page = client.post("/documents", files=upload)
            assert page.status_code == 507 and page.headers["content-type"].startswith("text/html")
            assert DISK_FULL in page.text
            assert client.get("/api/search", params={"q": "营商环境", "k": 3}).status_code == 200

            store.execute("PRAGMA max_page_count = 1073741823")  # space again
            added = client.post("/api/documents", files=upload)
            assert added.status_code == 200 and len(added.json()["added"]) == 1, added.text
    finally:
        service.collection.close()
