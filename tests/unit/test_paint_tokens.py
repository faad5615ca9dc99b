"""Paint tokens and links: signed by one key, bound to a user and an image, 15 minutes, one use
across two stores on one database (as two processes would be), and the mask's checks."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import itsdangerous.timed
import pytest
from PIL import Image

from bot.catalog import Catalog
from bot.errors import InputError, MaskMismatch, UnsupportedImageType
from bot.storage import Store
from bot.web import tokens as paint_tokens
from bot.web.links import Painting, PaintRequest
from bot.web.submit import check_mask
from bot.web.tokens import (
    PaintLinkExpired,
    PaintLinkForged,
    PaintLinkUsed,
    PaintTokens,
    TokenClaims,
)

CLAIMS = TokenClaims("link-1", "42", "a" * 64)


def png(size: tuple[int, int], mode: str = "RGBA", colour: object = (0, 0, 0, 255)) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_token_reads_back_only_with_its_key():
    token = PaintTokens("key one").sign(CLAIMS)
    assert PaintTokens("key one").read(token) == CLAIMS
    with pytest.raises(PaintLinkForged):
        PaintTokens("key two").read(token)
    with pytest.raises(PaintLinkForged):
        PaintTokens("key one").read(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    with pytest.raises(PaintLinkForged):
        PaintTokens("key one").read("not a token at all")


def test_a_token_expires_after_15_minutes(monkeypatch):
    signer = PaintTokens("key")
    token = signer.sign(CLAIMS)
    real = itsdangerous.timed.time.time
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: real() + 15 * 60 + 5)
    with pytest.raises(PaintLinkExpired):
        signer.read(token)
    assert signer.read(token, lifetime=3600) == CLAIMS  # the status poll's longer window


@pytest.fixture
async def stores(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'easel.db'}"
    first = await Store.open(url, tmp_path / "data")
    second = await Store.open(url, tmp_path / "data")
    yield first, second
    await first.close()
    await second.close()


async def test_two_processes_share_the_generated_key_and_one_use(stores):
    first, second = stores
    catalog = Catalog.load(None)
    model = next(m.id for m in catalog if m.supports_mask)
    here, there = [
        await Painting.open(s, catalog, secret=None, public_url="https://e.x/", edit_model=model)
        for s in stores
    ]
    image = (await first.put_image(png((8, 8)), "image/png")).sha256
    now = datetime.now(UTC)
    url = await here.link(PaintRequest("42", image, "a hat", model, {"channel_id": "1"}), now)
    assert url.startswith("https://e.x/paint/")
    token = url.rsplit("/", 1)[1]
    link = await there.check(token, now)  # the other process's key is the same one
    assert (link.user_id, link.image, link.prompt, link.model) == ("42", image, "a hat", model)
    await there.use(link, now)
    with pytest.raises(PaintLinkUsed):
        await here.use(link, now)
    with pytest.raises(PaintLinkUsed):
        await here.check(token, now)
    later = now + timedelta(minutes=16)
    fresh = await here.link(PaintRequest("42", image, "", model, {}), now)
    with pytest.raises(PaintLinkExpired):
        await here.check(fresh.rsplit("/", 1)[1], later)


async def test_a_web_secret_from_settings_wins(stores):
    first, _ = stores
    catalog = Catalog.load(None)
    model = next(m.id for m in catalog if m.supports_mask)
    set_key = await Painting.open(
        first, catalog, secret="s3", public_url="https://e", edit_model=model
    )
    stored = await Painting.open(
        first, catalog, secret=None, public_url="https://e", edit_model=model
    )
    image = (await first.put_image(png((8, 8)), "image/png")).sha256
    now = datetime.now(UTC)
    url = await set_key.link(PaintRequest("42", image, "", model, {}), now)
    with pytest.raises(PaintLinkForged):
        await stored.check(url.rsplit("/", 1)[1], now)
    assert paint_tokens.SECRET_NAME == "web"


def test_mask_checks():
    image = png((64, 48), "RGB", "red")
    painted = Image.new("RGBA", (64, 48), (0, 0, 0, 255))
    painted.putpixel((3, 3), (0, 0, 0, 0))
    buffer = io.BytesIO()
    painted.save(buffer, format="PNG")
    check_mask(buffer.getvalue(), image)
    with pytest.raises(MaskMismatch):
        check_mask(png((32, 24)), image)
    with pytest.raises(InputError, match="Nothing is painted"):
        check_mask(png((64, 48)), image)
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 48)).save(jpeg, format="JPEG")
    with pytest.raises(UnsupportedImageType):
        check_mask(jpeg.getvalue(), image)
