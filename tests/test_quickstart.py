"""The README followed word for word by a new user: its quickstart on a copy of this checkout, then every
command of its "Using it" section, on a fresh home directory, with the virtual environment activated.

The commands are read from README.md, so the test follows the README as it changes. It installs into a
fresh virtual environment (from pip's cache) and reuses the converted model (SPEECHQA_CACHE), which
makes it the slowest test; deselect it with `-m "not quickstart"`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.quickstart, pytest.mark.model]

ROOT = Path(__file__).parents[1]
INSTALL_TIMEOUT_S = 1800  # a fresh virtual environment with torch, on two shared cores
COMMAND_TIMEOUT_S = 300


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"README.md has no section '## {title}'"
    return match.group(1)


def bash_blocks(section: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", section, re.M | re.S)


def command_lines(block: str) -> list[str]:
    return [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_readme_sections_parse() -> None:
    """The parsing below finds what the README shows a user (so a reworded README cannot skip the test)."""
    [install] = [block for block in bash_blocks(readme_section("Quickstart")) if "speechqa demo" in block]
    assert command_lines(install)[-1].endswith("speechqa demo")
    lines = [line for block in bash_blocks(readme_section("Using it")) for line in command_lines(block)]
    assert any(line.startswith("speechqa search") for line in lines)
    assert not any("--data" in line or "SPEECHQA_DATA" in line for line in lines), \
        "the Using it commands run against the demo's collection, which needs no --data"


def _copy_checkout(target: Path) -> None:
    """The files a fresh clone of this checkout holds (tracked, and new ones not ignored)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=False)
    if listed.returncode != 0:  # not a git checkout: copy the tree without what a build leaves behind
        shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info",
                                                                    "test-output", ".*_cache"))
        return
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _fresh_user_env(home: Path, model_cache: Path) -> dict[str, str]:
    """A new user's environment: a fresh home, no speechqa settings, this Python first on PATH and
    the test's own virtual environment nowhere on it; pip's cache and the converted model reused."""
    pip_cache = os.environ.get("PIP_CACHE_DIR") or str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pip")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SPEECHQA_", "XDG_", "PYTHON", "VIRTUAL_ENV", "CONDA"))}
    running_venv = Path(sys.prefix) / "bin"
    path = [str(Path(sys.base_prefix) / "bin")]
    path += [entry for entry in os.environ.get("PATH", "").split(os.pathsep) if entry and Path(entry) != running_venv]
    env.update(HOME=str(home), PATH=os.pathsep.join(path), PIP_CACHE_DIR=pip_cache, SPEECHQA_CACHE=str(model_cache))
    for config in (".config/pip/pip.conf", ".pip/pip.conf"):  # the machine's pip configuration, not user data
        if (Path.home() / config).is_file():
            (home / config).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path.home() / config, home / config)
    return env


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_for_server(process: subprocess.Popen, url: str, log: Path, timeout_s: float) -> dict:
    """/healthz of a server being started, once it answers; fails when the process ends first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"exited with {process.returncode} before serving {url}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            answer = httpx.get(url + "/healthz", timeout=5)
            if answer.status_code == 200:
                return answer.json()
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"nothing served at {url} after {timeout_s:.0f} s:\n{log.read_text(errors='replace')[-4000:]}")


def _stop(process: subprocess.Popen) -> None:
    """Ctrl-C for the whole command, as a user stops a server."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _serving(command: str, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _port_of(command: str, default: int) -> int:
    match = re.search(r"--port[ =](\d+)", command)
    return int(match.group(1)) if match else default


def test_the_readme_quickstart_then_every_using_it_command(tmp_path: Path, model_cache_dir: Path) -> None:
    quickstart = readme_section("Quickstart")
    [install] = [block for block in bash_blocks(quickstart) if "speechqa demo" in block]
    demo_port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", quickstart).group(1))
    using = [line for block in bash_blocks(readme_section("Using it")) for line in command_lines(block)]
    ports = [demo_port] + [_port_of(line, 8000) for line in using if line.startswith("speechqa serve")]
    taken = [port for port in ports if not _port_free(port)]
    if taken:
        pytest.skip(f"the README's commands serve on ports {ports}, and {taken} are taken on this machine")

    checkout, home = tmp_path / "speechqa", tmp_path / "home"
    checkout.mkdir()
    home.mkdir()
    _copy_checkout(checkout)
    env = _fresh_user_env(home, model_cache_dir)

    # The quickstart: install, build the demo, serve it; it is ready when the demo's speeches are served.
    demo = _serving(" && ".join(command_lines(install)), checkout, env, tmp_path / "quickstart.log")
    try:
        health = _wait_for_server(demo, f"http://127.0.0.1:{demo_port}", tmp_path / "quickstart.log", INSTALL_TIMEOUT_S)
        assert health["documents"] == 5, health
        listed = httpx.get(f"http://127.0.0.1:{demo_port}/api/documents", timeout=30).json()
        demo_ids = {document["doc_id"] for document in listed["documents"]}
    finally:
        _stop(demo)

    # Then every command of "Using it" as written, each in the shell state the lines before it set
    # up (`source .venv/bin/activate`), each against the demo's collection.
    setup: list[str] = []
    for line in using:
        if line.startswith(("source ", ". ", "export ", "cd ")):
            setup.append(line)
            continue
        script = " && ".join([*setup, line])
        if line.startswith("speechqa serve"):
            port = _port_of(line, 8000)
            server = _serving(script, checkout, env, tmp_path / "serve.log")
            try:
                health = _wait_for_server(server, f"http://127.0.0.1:{port}", tmp_path / "serve.log", COMMAND_TIMEOUT_S)
                assert health["documents"] == 5, (line, health)
                page = httpx.get(f"http://127.0.0.1:{port}/search", params={"q": "招商引资进度为什么落后"}, timeout=120)
                assert page.status_code == 200, (line, page.status_code, page.text[:500])
            finally:
                _stop(server)
            continue
        done = subprocess.run(["bash", "-c", script], cwd=checkout, env=env, capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT_S)
        shown = f"{line}\nexit {done.returncode}\nstdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-2000:]}"
        assert done.returncode == 0, shown
        assert "error:" not in done.stderr and "no passages found" not in done.stdout, shown
        if not line.startswith("speechqa eval"):
            assert any(doc_id in done.stdout for doc_id in demo_ids), f"no demo document in the output of\n{shown}"
