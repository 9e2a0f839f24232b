"""embeddings/publish.py: build a directory once and publish it with one rename."""

from __future__ import annotations

from pathlib import Path

import pytest

from embeddings.publish import build_once


def marked(directory: Path) -> bool:
    return (directory / "done").is_file()


def builder(calls: list[Path], content: str = "new"):
    def build(staging: Path) -> None:
        calls.append(staging)
        (staging / "model.bin").write_text(content)
        (staging / "done").write_text("")
    return build


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if not p.name.endswith(".lock"))


def test_builds_into_a_staging_directory_then_renames_it_into_place(tmp_path: Path):
    calls: list[Path] = []
    target = tmp_path / "cache" / "model"
    assert build_once(target, marked, builder(calls)) == target
    assert [p.parent for p in calls] == [target.parent] and calls[0].name.startswith(".model.partial-")
    assert (target / "model.bin").read_text() == "new"
    assert leftovers(target.parent) == ["model"]


def test_a_current_directory_is_returned_without_building(tmp_path: Path):
    calls: list[Path] = []
    build_once(tmp_path / "model", marked, builder(calls))
    build_once(tmp_path / "model", marked, builder(calls, "other"))
    assert len(calls) == 1 and (tmp_path / "model" / "model.bin").read_text() == "new"


def test_a_stale_directory_and_crashed_staging_dirs_are_replaced(tmp_path: Path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.bin").write_text("truncated")  # no "done": an interrupted build
    (tmp_path / ".model.partial-crashed").mkdir()
    build_once(tmp_path / "model", marked, builder([]))
    assert (tmp_path / "model" / "model.bin").read_text() == "new"
    assert leftovers(tmp_path) == ["model"]


def test_a_failed_build_publishes_nothing_and_keeps_what_was_there(tmp_path: Path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.bin").write_text("old")

    def fail(staging: Path) -> None:
        (staging / "model.bin").write_text("half")
        raise RuntimeError("conversion failed")

    with pytest.raises(RuntimeError, match="conversion failed"):
        build_once(tmp_path / "model", marked, fail)
    assert (tmp_path / "model" / "model.bin").read_text() == "old"
    assert leftovers(tmp_path) == ["model"]
