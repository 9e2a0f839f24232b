#!/usr/bin/env bash
# Install speechqa with its test extra into .venv at the versions pinned in constraints.txt, then lint,
# type-check and run the whole test suite. This is the README's test command; .ci/run calls it word for word.
# It runs apt-get (as root, or through sudo) for chromium and CJK fonts, and takes several minutes.
# Arguments go to pytest: scripts/check.sh -m "not model and not browser" runs the fast tier only.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
# torch==2.13.0 is the CPU build; a bare "torch" requirement would pull a multi-GB CUDA build.
# pip byte-compiles one module at a time; compileall does it on every core, once, before the tests'
# many processes would each compile what they import at the same moment. Its errors are files that
# are not Python 3.11 (torch's tests of newer syntax), which pip would skip the same way.
.venv/bin/pip install --quiet --no-compile --disable-pip-version-check -c constraints.txt torch==2.13.0 -e '.[test]'
# compileall and mypy need the CPU while apt-get below mostly waits on the network and the disk, so
# both start now; the tests wait for compileall, and mypy's report is read after them.
.venv/bin/python -m compileall -q -j 0 .venv/lib/python*/site-packages >/dev/null 2>&1 &
compile_pid=$!
mypy_log="$(mktemp)"
.venv/bin/mypy qa embeddings web scripts >"$mypy_log" 2>&1 &
mypy_pid=$!

# The browser tests drive Debian's chromium through Playwright (no browser download); the CJK
# fonts only make their screenshots readable, so failing to install them is not an error.
if [ "$(id -u)" = 0 ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
if ! command -v chromium >/dev/null 2>&1; then
  $apt_get install -y -q chromium >/dev/null 2>&1 || { $apt_get update -q >/dev/null && $apt_get install -y -q chromium >/dev/null; }
fi
if [ ! -d /usr/share/fonts/opentype/noto ]; then
  $apt_get install -y -q fonts-noto-cjk >/dev/null 2>&1 || echo "note: fonts-noto-cjk not installed; screenshots will lack Chinese glyphs" >&2
fi

.venv/bin/ruff check qa embeddings web scripts tests

wait "$compile_pid" || true

# One worker more than the cores, since many tests spend their time waiting on a server or a
# subprocess; each worker takes whole test files, so module fixtures are built once. Files go out in
# the order tests/conftest.py gives them (the long quickstart first), not by their number of tests.
workers=$(( $(nproc) + 1 ))
status=0
.venv/bin/python -m pytest -q -n "$workers" --dist loadfile --no-loadscope-reorder "$@" || status=$?

mypy_status=0
wait "$mypy_pid" || mypy_status=$?
cat "$mypy_log"
rm -f "$mypy_log"
if [ "$mypy_status" -ne 0 ]; then echo "mypy found type errors (above)" >&2; exit "$mypy_status"; fi
exit "$status"
