"""Headless Chromium for browser tests: Debian's ``chromium`` (installed with apt-get when
missing), driven by Playwright with no browser download. Missing Chromium skips a test with the
reason locally, and fails it in CI (``CI`` set)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _install() -> str | None:
    """Install Debian's chromium if it isn't there; why not, if that fails."""
    if CHROMIUM.exists():
        return None
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "Chromium is not installed and this user can't apt-get install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        try:
            subprocess.run(command, env=env, check=True, capture_output=True, timeout=900)
        except (subprocess.SubprocessError, OSError) as exc:
            return f"apt-get could not install chromium: {exc}"
    return None if CHROMIUM.exists() else "apt-get ran but /usr/bin/chromium is missing"


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """The Chromium binary, installed once per session."""
    reason = _install()
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        reason = reason or "the playwright package is not installed (pip install -e '.[dev]')"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    return CHROMIUM


@contextlib.asynccontextmanager
async def browser_page(chromium: Path, *, has_touch: bool = False) -> AsyncIterator[object]:
    """A fresh page in a headless Chromium; no network but what the page itself asks for."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(chromium), args=ARGS, timeout=60000)
        try:
            context = await browser.new_context(
                viewport={"width": 1200, "height": 1500}, has_touch=has_touch
            )
            page = await context.new_page()
            page.set_default_timeout(20000)
            yield page
        finally:
            await browser.close()
