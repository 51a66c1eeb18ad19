"""Debian's Chromium driven by Playwright (its own browser downloads are not reachable):
what is missing to run it, and a headless browser launched the one way that works here."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.config import in_ci

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = "apt-get install chromium, then bash .ci/setup-clients"


def missing_browser() -> str | None:
    """Why the browser cannot run here, or None when it can."""
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        return f"Debian's chromium is not installed ({INSTALL})"
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[test]')"
    return None


def require_browser() -> None:
    """Skip (outside CI, naming the install command) or fail (in CI) without the browser."""
    reason = missing_browser()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"CI is set, so the browser tests may not be skipped: {reason}")
    pytest.skip(reason)


@contextlib.asynccontextmanager
async def headless_chromium() -> AsyncIterator[Any]:
    """A headless Chromium (Playwright's `Browser`), closed afterwards."""
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
            headless=True,
            # The suite runs as root in a container, where Chromium's sandbox cannot start.
            args=["--no-sandbox"],
        )
        try:
            yield browser
        finally:
            await browser.close()


@contextlib.asynccontextmanager
async def watched_page(timeout_ms: int) -> AsyncIterator[Any]:
    """A page of a fresh headless Chromium, waiting at most `timeout_ms` for anything; its
    `problems` list collects every page error and console error, for a test to assert on."""
    async with headless_chromium() as browser:
        opened = await browser.new_page()
        opened.set_default_timeout(timeout_ms)
        opened.problems = []
        opened.on("pageerror", lambda error: opened.problems.append(f"page error: {error}"))
        opened.on(
            "console",
            lambda message: (
                opened.problems.append(f"console {message.type}: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        yield opened
