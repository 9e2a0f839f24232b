"""qa/settings.py: each setting comes from its flag, else its environment variable, else its default."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from qa.errors import BadInputError
from qa.settings import DEFAULT_MODEL, Settings

BASE = {"data_dir": Path("/d"), "cache_dir": Path("/c")}  # given as flags where another setting is under test

# field: (environment variable or None, its value, the setting it gives, a flag value, the default)
CASES = {
    "model": ("SPEECHQA_MODEL", "BAAI/bge-m3", "BAAI/bge-m3", "intfloat/e5-base", DEFAULT_MODEL),
    "backend": ("SPEECHQA_BACKEND", "torch", "torch", "onnx", "auto"),
    "device": ("SPEECHQA_DEVICE", "cuda:1", "cuda:1", "cpu", None),
    "batch_size": ("SPEECHQA_BATCH_SIZE", "64", 64, 8, 32),
    "commit_passages": ("SPEECHQA_COMMIT_PASSAGES", "1000", 1000, 16, 256),
    "max_file_bytes": ("SPEECHQA_MAX_FILE_BYTES", "1024", 1024, 2048, 20 * 1024 * 1024),
    "token": ("SPEECHQA_TOKEN", "s3cret", "s3cret", "other", None),
    "index": ("SPEECHQA_INDEX", "milvus://db:19530", "milvus://db:19530", "/tmp/lite.db", None),
    "reranker": ("SPEECHQA_RERANKER", "BAAI/bge-reranker-base", "BAAI/bge-reranker-base", "/models/ce", None),
    "allowed_hosts": ("SPEECHQA_ALLOWED_HOSTS", " qa.example.org, ,*,", ("qa.example.org", "*"), ("a.test",), ()),
    "concurrent_searches": ("SPEECHQA_CONCURRENT_SEARCHES", "3", 3, 1, 0),
    "host": (None, None, None, "0.0.0.0", "127.0.0.1"),
    "port": (None, None, None, 9000, 8000),
    "max_query_chars": (None, None, None, 500, 2000),
    "max_upload_bytes": (None, None, None, 10, 20 * 1024 * 1024),
}


def test_every_setting_is_covered_here():
    assert {f.name for f in fields(Settings)} == set(CASES) | {"data_dir", "cache_dir"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_default_when_neither_flag_nor_environment_says(name):
    assert getattr(Settings.from_env({}, **BASE), name) == CASES[name][4]


@pytest.mark.parametrize("name", sorted(name for name, case in CASES.items() if case[0]))
def test_environment_overrides_the_default(name):
    variable, value, expected, _, _ = CASES[name]
    assert getattr(Settings.from_env({variable: value}, **BASE), name) == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_flag_overrides_environment(name):
    variable, value, _, flag, _ = CASES[name]
    env = {variable: value} if variable else {}
    assert getattr(Settings.from_env(env, **BASE, **{name: flag}), name) == flag


@pytest.mark.parametrize("name", sorted(name for name, case in CASES.items() if case[0]))
def test_a_flag_left_out_or_an_empty_variable_counts_as_not_given(name):
    variable, value, expected, _, default = CASES[name]
    assert getattr(Settings.from_env({variable: value}, **BASE, **{name: None}), name) == expected
    assert getattr(Settings.from_env({variable: ""}, **BASE), name) == default


@pytest.mark.parametrize(("name", "variable", "xdg", "fallback"), [
    ("data_dir", "SPEECHQA_DATA", "XDG_DATA_HOME", ".local/share"),
    ("cache_dir", "SPEECHQA_CACHE", "XDG_CACHE_HOME", ".cache"),
])
def test_directories_flag_then_variable_then_xdg_then_home(name, variable, xdg, fallback):
    assert getattr(Settings.from_env({}), name) == Path.home() / fallback / "speechqa"
    assert getattr(Settings.from_env({xdg: "/xdg"}), name) == Path("/xdg/speechqa")
    assert getattr(Settings.from_env({xdg: "/xdg", variable: "/var/sqa"}), name) == Path("/var/sqa")
    assert getattr(Settings.from_env({variable: "/var/sqa"}, **{name: Path("/flag")}), name) == Path("/flag")


def test_a_data_flag_given_as_text_becomes_a_path():
    assert Settings.from_env({}, data_dir="relative/collection").data_dir == Path("relative/collection")


def test_nothing_is_read_from_the_process_environment_when_a_mapping_is_given(monkeypatch):
    monkeypatch.setenv("SPEECHQA_MODEL", "from-the-process")
    assert Settings.from_env({}, **BASE).model == DEFAULT_MODEL
    assert Settings.from_env(None, **BASE).model == "from-the-process"


@pytest.mark.parametrize("value", ["two", "-1", "1.5"])
def test_concurrent_searches_that_are_no_count_are_refused_with_what_to_give(value):
    with pytest.raises(BadInputError, match=r"SPEECHQA_CONCURRENT_SEARCHES must be a whole number of 0 or more \(0 for one per core\)"):
        Settings.from_env({"SPEECHQA_CONCURRENT_SEARCHES": value}, **BASE)


def test_a_negative_flag_for_concurrent_searches_is_refused():
    with pytest.raises(BadInputError, match="concurrent searches must be 0 .one per core. or more, not -2"):
        Settings.from_env({}, **BASE, concurrent_searches=-2)
