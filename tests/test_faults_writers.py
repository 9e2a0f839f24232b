"""Two writers at once (issue 25, item 4): an upload racing a CLI ingest, two CLI ingests; each document is
kept once, and neither writer sees an error."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS, Server, copy_of, paragraph_files, speechqa_command
from tests.fault_watch import document_count, final_report, writer_env

pytestmark = pytest.mark.faults


def _documents_by_hash(data: Path) -> dict[str, int]:
    with sqlite3.connect(data / "speechqa.sqlite") as db:
        rows = db.execute("SELECT content_hash, COUNT(*) FROM documents GROUP BY content_hash").fetchall()
    db.close()
    return dict(rows)


def distinct_paragraph_files(folder: Path) -> int:
    """paragraph_files less those nearly repeating an earlier one: which of two near-identical texts racing
    writers keep depends on which writes first, so only distinct texts have one right answer."""
    from qa.index.near_duplicates import NearDuplicateFinder
    from qa.text.shingles import minhash_signature

    paragraph_files(folder)
    finder = NearDuplicateFinder()
    for seed in SEEDS.glob("*.txt"):  # a short speech nearly repeats its one long paragraph
        finder.add(seed.name, minhash_signature(seed.read_text(encoding="utf-8")))
    for path in sorted(folder.iterdir()):
        signature = minhash_signature(path.read_text(encoding="utf-8").split("\n", 1)[1].strip())
        if finder.find(signature) is not None:
            path.unlink()
        else:
            finder.add(path.name, signature)
    return len(list(folder.iterdir()))


def test_an_upload_racing_a_cli_ingest_of_the_same_files_keeps_each_once(fake_seed_collection_dir, model_cache_dir,
                                                                        tmp_path_factory, tmp_path):
    files = tmp_path / "paragraphs"
    n = distinct_paragraph_files(files)
    data = copy_of(fake_seed_collection_dir, tmp_path_factory, "racing")
    server = Server(data, model_cache_dir, fake=True)
    try:
        env = writer_env(data, model_cache_dir, SPEECHQA_COMMIT_PASSAGES="4")
        cli = subprocess.Popen([*speechqa_command(fake=True), "ingest", str(files)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        uploads = [(path.name, path.read_bytes()) for path in sorted(files.iterdir())]
        reports = [final_report(server.url, uploads[i : i + 4]) for i in range(0, n, 4)]
        out, err = cli.communicate(timeout=600)
        assert cli.returncode == 0, err[-3000:]
        assert "Traceback" not in err
        assert all(not report["rejected"] for report in reports), reports
        assert document_count(server.url) == 5 + n
    finally:
        server.stop()
    assert set(_documents_by_hash(data).values()) == {1} and len(_documents_by_hash(data)) == 5 + n


def test_two_cli_ingests_at_once_keep_each_document_once(fake_seed_collection_dir, model_cache_dir, tmp_path_factory,
                                                        tmp_path):
    files = tmp_path / "paragraphs"
    n = distinct_paragraph_files(files)
    data = copy_of(fake_seed_collection_dir, tmp_path_factory, "two-clis")
    env = writer_env(data, model_cache_dir, SPEECHQA_COMMIT_PASSAGES="4")
    runs = [subprocess.Popen([*speechqa_command(fake=True), "ingest", str(files), "--json"], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (_out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err[-3000:]
        assert "Traceback" not in err
    summaries = [json.loads(out.splitlines()[-1])["summary"] for out, _ in outputs]
    assert sum(s["added"] for s in summaries) == n
    assert sum(s["added"] + s["updated"] + s["duplicates"] for s in summaries) == 2 * n
    assert set(_documents_by_hash(data).values()) == {1} and len(_documents_by_hash(data)) == 5 + n
