"""scripts/install.sh picks torch's CPU build on a machine without an NVIDIA GPU, PyPI's CUDA build with one.

Run with stand-ins for python3, pip and nvidia-smi that record what they are asked, so nothing is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

PYTHON3 = """#!/usr/bin/env bash
# python3 -m venv .venv: a virtual environment whose pip records its arguments
mkdir -p .venv/bin
printf '#!/usr/bin/env bash\\necho "$*" >> "$PIP_LOG"\\n' > .venv/bin/pip
printf '#!/usr/bin/env bash\\nexit "${INDEX_UNREACHABLE:-0}"\\n' > .venv/bin/python
chmod +x .venv/bin/pip .venv/bin/python
"""


def install(tmp_path: Path, *args: str, gpu: bool, reachable: bool = True, **env: str) -> list[str]:
    checkout, stubs = tmp_path / "checkout", tmp_path / "stubs"
    (checkout / "scripts").mkdir(parents=True)
    stubs.mkdir()
    shutil.copy2(ROOT / "scripts" / "install.sh", checkout / "scripts" / "install.sh")
    (checkout / "constraints.txt").write_text("", encoding="utf-8")
    (stubs / "python3").write_text(PYTHON3, encoding="utf-8")
    if gpu:
        (stubs / "nvidia-smi").write_text("#!/usr/bin/env bash\necho 'GPU 0: NVIDIA H100'\n", encoding="utf-8")
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    log = tmp_path / "pip.log"
    path = f"{stubs}{os.pathsep}/usr/bin{os.pathsep}/bin"
    done = subprocess.run(["bash", str(checkout / "scripts" / "install.sh"), *args], cwd=checkout, capture_output=True,
                          text=True, env={"PATH": path, "PIP_LOG": str(log), "HOME": str(tmp_path),
                                          "INDEX_UNREACHABLE": "0" if reachable else "1", **env})
    assert done.returncode == 0, done.stderr
    return log.read_text(encoding="utf-8").splitlines()


def test_without_a_gpu_torch_comes_from_the_cpu_index(tmp_path):
    torch, speechqa = install(tmp_path, gpu=False)
    assert f"--extra-index-url {CPU_INDEX} torch==2.13.0" in torch and "-c constraints.txt" in torch
    assert speechqa.endswith("-c constraints.txt -e .") and CPU_INDEX not in speechqa


def test_with_a_gpu_torch_comes_from_pypi(tmp_path):
    torch, _ = install(tmp_path, gpu=True)
    assert torch.endswith("torch==2.13.0") and CPU_INDEX not in torch


@pytest.mark.parametrize(("gpu", "choice", "cpu_build"), [(True, "cpu", True), (False, "cuda", False)])
def test_speechqa_torch_decides_instead_of_the_gpu_check(tmp_path, gpu, choice, cpu_build):
    torch, _ = install(tmp_path, gpu=gpu, SPEECHQA_TORCH=choice)
    assert (CPU_INDEX in torch) is cpu_build


def test_an_unreachable_cpu_index_falls_back_to_the_configured_index(tmp_path):
    torch, _ = install(tmp_path, gpu=False, reachable=False)
    assert torch.endswith("torch==2.13.0") and CPU_INDEX not in torch


def test_arguments_go_to_pip(tmp_path):
    _, speechqa = install(tmp_path, "-e", ".[mcp]", gpu=False)
    assert speechqa.endswith("-c constraints.txt -e .[mcp]")
