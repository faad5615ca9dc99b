"""``python -m bot check`` end to end: the real httpx against the fake router and the fake
Discord on loopback, a real SQLite store and data directory. Each misconfiguration gives its own
one line saying what to change, and every problem of one run is listed at once."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot import checks
from bot.cli import main
from tests.e2e.conftest import ROUTER_KEY
from tests.e2e.processes import free_port
from tests.fakes.discord import FakeDiscord

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def configure(world, router, tmp_path, monkeypatch):
    """Settings that pass every check; a test changes one thing."""
    fake = world[0]

    def apply(**changes: str | None) -> None:
        values = {
            "DISCORD_TOKEN": fake.token,
            "DISCORD_API_BASE": fake.api_base,
            "ROUTER_BASE_URL": router.base_url,
            "ROUTER_API_KEY": ROUTER_KEY,
            "DATA_DIR": str(tmp_path / "data"),
            **changes,
        }
        for name, value in values.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)

    apply()
    return apply


async def check(capsys) -> tuple[int, list[str]]:
    status = await asyncio.to_thread(main, ["check"])
    out, err = capsys.readouterr()
    assert err == ""  # the findings say it all; log lines only with --verbose
    return status, out.splitlines()


def problems(lines: list[str]) -> list[str]:
    return [line.removeprefix("FIX  ") for line in lines if line.startswith("FIX  ")]


async def test_a_good_configuration_passes_every_check(configure, capsys, world, router):
    status, lines = await check(capsys)
    assert status == 0, lines
    fake = world[0]
    kind = lines.index("ok   router kind: requesty (guessed from the base URL)")
    assert lines[kind + 1] == "ok   it offers 7 image model(s):"
    models = [line for line in lines if line.startswith("ok     ")]
    assert len(models) == 7 and any("gpt-image-1" in line for line in models)
    lines = [line for line in lines if not line.startswith("ok     ")]
    del lines[kind : kind + 2]
    assert lines == [
        "ok   settings: every setting is valid",
        f"ok   router {router.base_url}: reachable, key accepted (7 models listed)",
        "ok   imagine  azure/openai/gpt-image-1: images API",
        "ok   edit     azure/openai/gpt-image-1: images API",
        "ok   refine   vertex/google/gemini-3-pro-image-preview: chat API",
        f"ok   Discord token accepted: application Easel (id {fake.application_id})",
        "ok   Discord: the Message Content intent is enabled",
        f"ok   store sqlite+aiosqlite:///{Path('data').resolve()}/easel.db: created at the "
        "first start",
        lines[8],
        "Everything a start needs is in place.",
    ]
    assert lines[8].startswith(f"ok   data directory {Path('data').resolve()}: writable, ")
    assert ROUTER_KEY not in "\n".join(lines) and fake.token not in "\n".join(lines)


async def test_every_missing_and_invalid_setting_is_listed_in_one_run(configure, capsys):
    configure(DISCORD_TOKEN=None, ROUTER_API_KEY=None, REQUEST_TIMEOUT="soon", HEALTH_PORT="99999")
    status, lines = await check(capsys)
    assert status == 2
    assert problems(lines) == [
        "REQUEST_TIMEOUT is invalid: Input should be a valid number, unable to parse string as "
        "a number; change it in .env or the environment",
        "HEALTH_PORT is invalid: Input should be less than or equal to 65535; change it in .env "
        "or the environment",
        "DISCORD_TOKEN is not set: create an application at "
        "https://discord.com/developers/applications, open Bot → Reset Token, and put the token "
        "in .env as DISCORD_TOKEN=…",
        "ROUTER_API_KEY is not set: put your router key (Requesty, OpenRouter, LiteLLM or "
        "OpenAI) in .env as ROUTER_API_KEY=…",
    ]
    assert lines[-1] == "4 problem(s) to fix."
    assert any("reachable, key not checked (ROUTER_API_KEY is not set)" in line for line in lines)


async def test_a_base_url_without_v1_is_named_as_such(configure, capsys, router):
    base = router.base_url.removesuffix("/v1")
    configure(ROUTER_BASE_URL=base)
    status, lines = await check(capsys)
    assert status == 2
    assert problems(lines) == [
        f"ROUTER_BASE_URL: {base}/models answered 404; the base URL is the API's, usually ending "
        "in /v1 (e.g. https://router.requesty.ai/v1)"
    ]


async def test_a_router_that_is_down_is_named_by_its_url(configure, capsys):
    url = f"http://127.0.0.1:{free_port()}/v1"
    configure(ROUTER_BASE_URL=url)
    status, lines = await check(capsys)
    assert status == 2
    assert problems(lines) == [
        f"ROUTER_BASE_URL: can't reach the router at {url} (ConnectError: All connection "
        "attempts failed); check the address and that the router is running"
    ]


async def test_a_refused_router_key(configure, capsys, router):
    configure(ROUTER_API_KEY="not-the-key")
    status, lines = await check(capsys)
    assert problems(lines) == [
        f"ROUTER_API_KEY: the router at {router.base_url} refused the key; copy it again from "
        "the router's dashboard"
    ]
    assert "not-the-key" not in "\n".join(lines)


async def test_a_default_model_the_router_does_not_offer(configure, capsys):
    configure(IMAGINE_MODEL="acme/no-such-model")
    status, lines = await check(capsys)
    assert problems(lines) == [
        "IMAGINE_MODEL: the router doesn't offer acme/no-such-model; set IMAGINE_MODEL to a "
        "model it lists, e.g. azure/openai/gpt-image-1"
    ]


async def test_a_refused_discord_token(configure, capsys, world):
    fake = world[0]
    head = fake.token.split(".", 1)[0]
    configure(DISCORD_TOKEN=f"{head}.old.revoked")
    status, lines = await check(capsys)
    assert status == 2
    assert problems(lines) == [
        "DISCORD_TOKEN: Discord refused the token; copy a new one from the Developer Portal "
        "(Bot → Reset Token)"
    ]


async def test_a_token_that_is_not_a_bot_token(configure, capsys):
    configure(DISCORD_TOKEN="hello")
    status, lines = await check(capsys)
    assert problems(lines) == [
        "DISCORD_TOKEN doesn't look like a bot token; copy it again from the Developer Portal "
        "(Bot → Reset Token)."
    ]


async def test_the_message_content_intent_switched_off(configure, capsys, router):
    async with FakeDiscord(privileged_intents=0) as fake:
        configure(DISCORD_TOKEN=fake.token, DISCORD_API_BASE=fake.api_base)
        status, lines = await check(capsys)
    assert status == 2
    assert problems(lines) == [
        "Discord: the Message Content intent is off; enable it at "
        f"https://discord.com/developers/applications/{fake.application_id}/bot "
        "(Privileged Gateway Intents → Message Content)"
    ]


async def test_discord_out_of_reach(configure, capsys):
    api = f"http://127.0.0.1:{free_port()}/api/v10"
    configure(DISCORD_API_BASE=api)
    status, lines = await check(capsys)
    assert problems(lines) == [
        f"Discord: can't reach {api} (ConnectError); check the network connection, a proxy or "
        "firewall, or DISCORD_API_BASE"
    ]


async def test_a_store_that_is_current_and_one_from_a_newer_easel(configure, capsys, tmp_path):
    assert await asyncio.to_thread(main, ["imagine", "to make the store", "--out", "out"]) == 0
    capsys.readouterr()
    status, lines = await check(capsys)
    assert status == 0 and any("opens, migrations current" in line for line in lines), lines
    with sqlite3.connect(tmp_path / "data" / "easel.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999_future'")
    status, lines = await check(capsys)
    database = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'easel.db'}"
    assert problems(lines) == [
        f"store {database} is at revision 9999_future, which this Easel doesn't know: run the "
        "newer Easel that wrote it, or point DATABASE_URL or DATA_DIR at another store"
    ]


async def test_a_store_that_will_not_open(configure, capsys, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "easel.db").write_bytes(b"not a database" * 100)
    status, lines = await check(capsys)
    database = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'easel.db'}"
    assert problems(lines) == [
        f"DATABASE_URL: can't open the store {database} (DatabaseError); check that the "
        "database server runs and the URL, user and password are right"
    ]


async def test_a_data_dir_that_is_a_file_or_short_of_space(
    configure, capsys, tmp_path, monkeypatch
):
    (tmp_path / "afile").write_text("x")
    configure(DATA_DIR=str(tmp_path / "afile" / "data"))
    _, lines = await check(capsys)
    assert (
        f"DATA_DIR {tmp_path}/afile/data: {tmp_path}/afile is a file; set DATA_DIR to a directory"
        in problems(lines)
    )
    configure()
    monkeypatch.setattr(checks, "MIN_FREE_BYTES", 1 << 62)
    _, lines = await check(capsys)
    [line] = problems(lines)
    assert line.startswith(f"DATA_DIR {tmp_path}/data: only ") and line.endswith(
        " MB free on its disk; free some space or set DATA_DIR on a disk with at least 1 GB free"
    )
