"""Take the screenshots in docs/ (and so the README's) of the pages as they are now.

Builds the demo collection in a temporary directory (or uses --data), serves it on loopback, and photographs
each page with headless Debian chromium through Playwright, as tests/test_browser.py drives it:

    python scripts/screenshots.py                 # every screenshot, into docs/
    python scripts/screenshots.py --only search   # one of them
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
QUESTION = "招商引资进度为什么落后"
VIEWPORT: Any = {"width": 1280, "height": 900}  # playwright's ViewportSize


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _speechqa(*args: str, env: dict[str, str], **kwargs: Any) -> subprocess.Popen | subprocess.CompletedProcess:
    command = [sys.executable, "-m", "qa.cli", *args]
    if kwargs.pop("background", False):
        return subprocess.Popen(command, env=env, cwd=ROOT, **kwargs)
    return subprocess.run(command, env=env, cwd=ROOT, check=True, **kwargs)


def _serve(data: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = _speechqa("serve", "--data", str(data), "--port", str(port), env=env, background=True)
    assert isinstance(server, subprocess.Popen)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"speechqa serve exited with {server.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.terminate()
    raise SystemExit("speechqa serve did not answer in 300 s")


def search(page: Any, url: str) -> None:
    """Results for the demo's question: marked sentences, facets, downloads."""
    page.goto(f"{url}/search?q={QUESTION}")
    page.wait_for_selector("article.hit")


def facets(page: Any, url: str) -> None:
    """The same question narrowed to one year by its facet."""
    page.goto(f"{url}/search?q={QUESTION}")
    page.locator("aside.facets section[data-kind=year] a.facet-value").first.click()
    page.wait_for_url("**date_from=**")
    page.wait_for_selector("article.hit")


def phrase(page: Any, url: str) -> None:
    page.goto(f"{url}/phrase?q=工业")
    page.wait_for_selector("svg.timeline-chart a.bar")


def documents(page: Any, url: str) -> None:
    """The documents page with one row's delete control opened at its confirm step."""
    page.goto(f"{url}/documents")
    page.locator("details.delete summary").first.click()


SHOTS: dict[str, Callable[[Any, str], None]] = {"search": search, "facets": facets, "phrase": phrase,
                                                "documents": documents}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="a collection to photograph (default: the demo's, built afresh)")
    parser.add_argument("--only", choices=sorted(SHOTS), action="append", help="just these screenshots")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where the PNGs go (default: docs/)")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: install Debian's chromium package")
    from playwright.sync_api import sync_playwright

    env = {k: v for k, v in os.environ.items() if k not in ("SPEECHQA_TOKEN", "SPEECHQA_DATA")}
    with tempfile.TemporaryDirectory() as scratch:
        data = args.data
        if data is None:
            data = Path(scratch) / "demo"
            _speechqa("demo", "--no-serve", "--data", str(data), env=env)
        server, url = _serve(data, env)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
                for name in args.only or SHOTS:
                    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
                    context.set_default_timeout(120_000)
                    page = context.new_page()
                    SHOTS[name](page, url)
                    page.wait_for_load_state("networkidle")
                    path = args.out / f"screenshot-{name}.png"
                    page.screenshot(path=str(path))
                    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
                    context.close()
                browser.close()
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
