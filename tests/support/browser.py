"""Headless Chromium for the browser tests: Debian's `chromium` package (CI installs it),
driven by Playwright, which cannot download a browser of its own here."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 20_000

# For a test module's `pytestmark`: marked `browser` (`-m "not browser"` leaves them out), and
# skipped, saying why, where the browser is not installed.
needs_chromium = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="headless Chromium is not installed (Debian: apt-get install chromium)",
    ),
]
