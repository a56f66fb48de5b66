"""Render the ``proactive view`` page of run folders to a PNG with headless Chromium (the README's picture).

usage: python -m proactive.view.screenshot RUN_DIR [RUN_DIR ...] --out PNG [--labels L ...]
                                           [--filters HASH] [--width 1400] [--height 1100]

The page is written to a temporary folder, opened from disk in Chromium (the Debian package
``chromium``, or the browser CHROMIUM names) driven by Playwright (``pip install -e .[dev]``), and
captured once its first episodes are shown. ``--filters`` is the page's URL hash, e.g.
``differ=1&scenario=ROD`` (the filters as the page writes them in the address bar).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Chromium on a closed network: no background connections, no sandbox when run as root.
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_path() -> str | None:
    """The Chromium executable: $CHROMIUM, else ``chromium`` or ``chromium-browser`` on the PATH."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def launch_chromium(playwright: Any) -> Any:
    """A headless Chromium browser from the system's executable (Playwright downloads none)."""
    executable = chromium_path()
    if executable is None:
        raise FileNotFoundError("no Chromium found: install the Debian package 'chromium' or set CHROMIUM")
    return playwright.chromium.launch(executable_path=executable, args=list(CHROMIUM_FLAGS), headless=True)


def page_url(page: str | Path, filters: str = "") -> str:
    return Path(page).resolve().as_uri() + (f"#{filters}" if filters else "")


def screenshot(
    page: str | Path, png: str | Path, filters: str = "", width: int = 1400, height: int = 1100
) -> Path:
    """Capture the viewport of ``page`` (an index.html written by ``proactive view``) into ``png``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            tab = browser.new_page(viewport={"width": width, "height": height})
            tab.goto(page_url(page, filters))
            tab.wait_for_selector(".card.loaded, #no-match")
            tab.wait_for_function(  # the images on screen (the others load lazily, when scrolled to)
                "[...document.images].every((i) => i.complete || i.getBoundingClientRect().top > innerHeight)"
            )
            tab.screenshot(path=str(png))
        finally:
            browser.close()
    return Path(png)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m proactive.view.screenshot", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--out", required=True, help="the PNG to write")
    parser.add_argument("--labels", nargs="+")
    parser.add_argument("--filters", default="", help="the page's URL hash, e.g. differ=1&scenario=ROD")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1100)
    args = parser.parse_args(argv)
    from proactive.view.cli import write_view

    with tempfile.TemporaryDirectory() as folder:
        page = write_view(args.runs, folder, args.labels)
        png = screenshot(page, args.out, args.filters, args.width, args.height)
    print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
