"""The CLI as a newcomer meets it (``python -m bot`` as a subprocess against the fake router on
loopback): quiet logs unless ``--verbose``, jobs kept in the user's data directory rather than
wherever it runs, and router errors that name ROUTER_BASE_URL and what is wrong with it."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import ROUTER_KEY
from tests.e2e.processes import clean_env, free_port

pytestmark = pytest.mark.timeout(90)
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) ")


def cli(tmp_path: Path, *args: str, unset: tuple[str, ...] = (), **settings: str):
    env = clean_env(tmp_path, ROUTER_API_KEY=ROUTER_KEY, ROUTER_MAX_RETRIES="0", **settings)
    env.update(XDG_DATA_HOME=str(tmp_path / "xdg"))
    for name in unset:
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def run(tmp_path: Path, *args: str, **kwargs):
    return await asyncio.to_thread(cli, tmp_path, *args, **kwargs)


async def test_logs_stay_off_stderr_unless_verbose(tmp_path, router):
    quiet = await run(tmp_path, "imagine", "a quiet cat", "--out", "out",
                      ROUTER_BASE_URL=router.base_url, LOG_LEVEL="INFO")  # fmt: skip
    assert quiet.returncode == 0, quiet.stderr
    assert not [line for line in quiet.stderr.splitlines() if LOG_LINE.match(line)]
    loud = await run(tmp_path, "--verbose", "imagine", "a loud cat", "--out", "out",
                     ROUTER_BASE_URL=router.base_url)  # fmt: skip
    assert loud.returncode == 0, loud.stderr
    assert any(" INFO    bot.storage: store open" in line for line in loud.stderr.splitlines())


async def test_cli_jobs_go_to_the_user_data_directory_unless_data_dir_is_set(tmp_path, router):
    # A refused input is stored as a failed job (so Retry could find it): not in ./data.
    refused = await run(tmp_path, "imagine", "a cat", "--size", "999x1",
                        ROUTER_BASE_URL=router.base_url, unset=("DATA_DIR",))  # fmt: skip
    assert refused.returncode == 1 and "999x1" in refused.stderr
    assert not (tmp_path / "data").exists()
    with sqlite3.connect(tmp_path / "xdg" / "easel" / "easel.db") as db:
        assert db.execute("SELECT prompt, status FROM jobs").fetchall() == [("a cat", "failed")]
    chosen = await run(tmp_path, "imagine", "a kept cat", "--out", "out",
                       ROUTER_BASE_URL=router.base_url, DATA_DIR=str(tmp_path / "mine"))  # fmt: skip
    assert chosen.returncode == 0, chosen.stderr
    with sqlite3.connect(tmp_path / "mine" / "easel.db") as db:
        assert db.execute("SELECT prompt FROM jobs").fetchall() == [("a kept cat",)]


async def test_a_base_url_without_v1_is_not_reported_as_an_unknown_model(tmp_path, router):
    base = router.base_url.removesuffix("/v1")
    proc = await run(tmp_path, "imagine", "a cat", ROUTER_BASE_URL=base)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        "The image service isn't at that address (HTTP 404); the bot's owner should check "
        f"ROUTER_BASE_URL, which usually ends in /v1. (ROUTER_BASE_URL is {base}); if the "
        "router isn't Requesty, set ROUTER_KIND (openrouter, litellm, openai or requesty)"
    )
    assert "doesn't know" not in proc.stderr


async def test_a_router_that_is_down_is_named_by_its_url(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    proc = await run(tmp_path, "imagine", "a cat", ROUTER_BASE_URL=url)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"Couldn't reach the image service. Try again in a minute. (ROUTER_BASE_URL is {url})"
    )
