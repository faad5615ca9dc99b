"""The README's pictures are drawn from what the bot really posts: every scene of
``docs/screens.py`` runs against the fake Discord and renders."""

from __future__ import annotations

import pytest

from docs.render_screens import render
from docs.screens import collect

pytestmark = pytest.mark.timeout(90)


async def test_every_scene_is_recorded_and_drawn():
    scenes = {scene.name: scene for scene in await collect()}
    assert set(scenes) == {"progress", "result", "error"}
    assert "Generating with GPT Image 1 (Azure)…" in scenes["progress"].content
    result = scenes["result"]
    assert result.embeds[0]["description"] == "a red barn at dawn, watercolor"
    assert result.images and all(data.startswith(b"\x89PNG") for data in result.images.values())
    labels = [b.get("label") for row in result.components for b in row["components"]]
    assert labels[:3] == ["Retry", "Remix", "Delete"]
    assert scenes["error"].embeds[0]["title"] == "Couldn't finish that"
    for scene in scenes.values():
        picture = render(scene)
        assert picture.width == 760 and 100 < picture.height < 1200
