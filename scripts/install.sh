#!/usr/bin/env bash
# Install speechqa into .venv with the versions pinned in constraints.txt, and a torch that fits the
# machine: without an NVIDIA GPU, the CPU build from PyTorch's CPU wheel index (PyPI's Linux torch is
# the CUDA build, with several GB of NVIDIA libraries a CPU does not use); with one, PyPI's CUDA build.
# SPEECHQA_TORCH=cpu or SPEECHQA_TORCH=cuda decides instead of the GPU check. Arguments name what to install
# with it (default: -e .), e.g. scripts/install.sh -e '.[mcp]' for the MCP extra.
set -euo pipefail
cd "$(dirname "$0")/.."

CPU_INDEX="https://download.pytorch.org/whl/cpu"
TORCH="torch==2.13.0"

choice="${SPEECHQA_TORCH:-auto}"
if [ "$choice" = auto ]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then choice=cuda; else choice=cpu; fi
fi
case "$choice" in cpu|cuda) ;; *) echo "error: SPEECHQA_TORCH must be cpu, cuda or auto, not '$choice'" >&2; exit 2 ;; esac

python3 -m venv .venv
# --no-compile: a module is byte-compiled when it is first imported, so the install does not spend its
# time compiling the many modules of torch and its dependencies that speechqa never imports.
pip=(.venv/bin/pip install --no-compile --disable-pip-version-check -c constraints.txt)

if [ "$choice" = cuda ]; then
  echo "installing torch for CUDA from PyPI (an NVIDIA GPU is present; SPEECHQA_TORCH=cpu for the CPU build)" >&2
  "${pip[@]}" "$TORCH"
elif .venv/bin/python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + '/torch/', timeout=15)" "$CPU_INDEX" 2>/dev/null; then
  echo "installing torch's CPU build from $CPU_INDEX (no NVIDIA GPU; SPEECHQA_TORCH=cuda for the CUDA build)" >&2
  # An extra index, so that its dependencies keep their pinned versions from PyPI; its 2.13.0+cpu ranks
  # above PyPI's 2.13.0.
  "${pip[@]}" --extra-index-url "$CPU_INDEX" "$TORCH"
else
  # A machine that reaches only its own package index (a mirror, a wheel folder) gets torch from there.
  echo "note: $CPU_INDEX cannot be reached; installing torch from the package index pip is set up with" \
       "(on Linux, PyPI's torch is the CUDA build)" >&2
  "${pip[@]}" "$TORCH"
fi

if [ "$#" -eq 0 ]; then set -- -e .; fi
"${pip[@]}" "$@"
