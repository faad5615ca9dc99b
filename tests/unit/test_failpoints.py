"""EASEL_FAILPOINTS names where a process holds; anything else is ignored, never fatal."""

from __future__ import annotations

import asyncio

from bot import failpoints


def test_names_and_seconds_are_read_and_junk_is_ignored() -> None:
    assert failpoints._parse("answered:30, stored:1.5,,bad:x") == {"answered": 30.0, "stored": 1.5}
    assert failpoints._parse("") == {}


async def test_an_unset_point_returns_at_once(monkeypatch) -> None:
    monkeypatch.setattr(failpoints, "_POINTS", {"stored": 60.0})
    await asyncio.wait_for(failpoints.reach("answered"), 1)
    held = asyncio.create_task(failpoints.reach("stored"))
    await asyncio.sleep(0.05)
    assert not held.done()
    held.cancel()
