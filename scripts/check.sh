#!/usr/bin/env bash
# Install speechqa with its test extra into .venv, then lint and run the whole test suite.
# This is the README's test command; .ci/run calls it word for word.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
# torch==2.13.0 is the CPU build; a bare "torch" requirement would pull a multi-GB CUDA build.
.venv/bin/pip install --quiet --disable-pip-version-check torch==2.13.0 -e '.[test]'

# The browser tests drive Debian's chromium through Playwright (no browser download).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
  $apt_get install -y -q chromium >/dev/null 2>&1 || { $apt_get update -q >/dev/null && $apt_get install -y -q chromium >/dev/null; }
fi

.venv/bin/ruff check qa embeddings web scripts tests
.venv/bin/python -m pytest -q "$@"
