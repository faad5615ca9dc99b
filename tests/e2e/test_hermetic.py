"""Item 1 of issue 14: a developer's ``.env`` in the checkout (a real-looking token, a router
on the internet) changes nothing while the suite runs, and the suite's loopback guard refuses and
reports any connection or lookup beyond loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import load_settings
from tests import hermetic
from tests.e2e.processes import clean_env

ROOT = Path(__file__).resolve().parents[2]
# Never reinstall from inside a test (that would reach PyPI): make treats the venv as current.
STAMP = ROOT / ".venv" / ".installed"
PLANTED_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.planted.by-test-hermetic"
PLANTED = (
    "# Written by tests/e2e/test_hermetic.py while it runs; removed afterwards.\n"
    f"DISCORD_TOKEN={PLANTED_TOKEN}\n"
    "ROUTER_BASE_URL=https://router.example.com/v1\n"
    "ROUTER_API_KEY=planted-router-key\n"
    "LOG_LEVEL=DEBUG\n"
)
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def checkout_dotenv() -> Iterator[Path]:
    """A ``.env`` in the checkout: planted if there is none, the developer's own if there is."""
    path = ROOT / ".env"
    planted = not path.exists()
    if planted:
        path.write_text(PLANTED, encoding="utf-8")
    try:
        yield path
    finally:
        if planted and path.read_text(encoding="utf-8") == PLANTED:
            path.unlink()


def test_settings_in_a_test_never_come_from_the_checkouts_dotenv(checkout_dotenv):
    settings = load_settings()
    assert settings.discord_token is None and settings.router_api_key is None
    assert settings.router_base_url == "https://router.requesty.ai/v1"  # the default, not .env's
    assert Path.cwd() != ROOT  # every test runs in its own directory


def test_make_run_with_a_token_in_the_checkout_still_says_it_is_missing(checkout_dotenv, tmp_path):
    proc = subprocess.run(
        ["make", "-s", "-f", str(ROOT / "Makefile"), "-o", str(STAMP), "run"],
        cwd=tmp_path,
        env=clean_env(tmp_path, ROUTER_API_KEY="k"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[0] == (
        "Configuration error: DISCORD_TOKEN is not set: create an application at "
        "https://discord.com/developers/applications, open Bot → Reset Token, and put the "
        "token in .env as DISCORD_TOKEN=…"
    )
    assert "Traceback" not in proc.stderr and "router.example.com" not in proc.stderr


def test_the_guard_refuses_and_records_what_leaves_loopback():
    seen = len(hermetic.violations)
    with socket.socket() as sock, pytest.raises(hermetic.NotHermetic, match="loopback"):
        sock.connect(("192.0.2.1", 443))  # TEST-NET-1: never routable
    with pytest.raises(hermetic.NotHermetic):
        socket.getaddrinfo("discord.com", 443)
    assert len(hermetic.violations) == seen + 2
    del hermetic.violations[seen:]  # expected here; any other test doing this fails
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        with socket.create_connection(sock.getsockname(), timeout=5):
            pass  # loopback is fine


def test_child_processes_carry_the_guard(tmp_path, hermetic_session):
    code = "import socket; socket.create_connection(('192.0.2.1', 443), timeout=1)"
    before = hermetic_session.read_text(encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=clean_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0 and "NotHermetic" in proc.stderr
    logged = hermetic_session.read_text(encoding="utf-8")
    assert "192.0.2.1" in logged[len(before) :]
    hermetic_session.write_text(before, encoding="utf-8")  # expected here, not a failure
