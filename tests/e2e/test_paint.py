"""🖌️ Paint a region, end to end: the real bot against the fake Discord and the fake router, and
the paint page in a real headless Chromium (tests/e2e/browser.py) talking to the bot's web
server on loopback."""

from __future__ import annotations

import hashlib
import io
import math
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image

from bot.domain import JobKind
from bot.schema import paint_links
from tests.e2e.browser import browser_page, chromium_path  # noqa: F401 (a fixture)
from tests.e2e.conftest import outcome
from tests.e2e.processes import free_port

pytestmark = pytest.mark.timeout(180)

URL = re.compile(r"http://127\.0\.0\.1:\d+/paint/\S+")


def button(message, action: str) -> str:
    ids = [c for c in message.custom_ids() if c.startswith(f"easel:{action}:")]
    assert ids, f"no {action} button on the message: {message.custom_ids()}"
    return ids[0]


def edits_to(router):
    return [r for r in router.requests if r.path.endswith("/images/edits")]


async def edit_jobs(store) -> list:
    jobs = []
    for status in ("queued", "running", "done", "failed", "cancelled"):
        jobs += [j for j in await store.jobs_with_status(status) if j.kind is JobKind.EDIT]
    return jobs


@pytest.fixture
async def painting(easel):
    port = free_port()
    await easel.restart(public_url=f"http://127.0.0.1:{port}", web_port=port)
    await easel.fake.wait_for_commands(["imagine", "Edit image"])
    return easel


async def paint_link(fake, user, result) -> str:
    click = await fake.click(user, result, button(result, "paint"))
    [reply] = await click.wait_followups(1, timeout=20)
    assert reply.ephemeral, "the link is for the one who pressed"
    match = URL.search(reply.content)
    assert match, reply.content
    return match[0]


def mask_png(size: tuple[int, int], box: tuple[int, int, int, int]) -> bytes:
    mask = Image.new("RGBA", size, (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), box)
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return buffer.getvalue()


async def post_mask(
    url: str, mask: bytes, prompt: str = "a boat", model: str = "", mask_type: str = "image/png"
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=20) as client:
        info = (await client.get(f"{url}/info")).json()
        files = {"mask": ("mask.png", mask, mask_type)}
        data = {"prompt": prompt, "model": model or info.get("model", "")}
        return await client.post(url, data=data, files=files)


def distance_to_segment(
    x: float, y: float, a: tuple[float, float], b: tuple[float, float]
) -> float:
    (ax, ay), (bx, by) = a, b
    t = max(
        0.0,
        min(1.0, ((x - ax) * (bx - ax) + (y - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)),
    )
    return math.hypot(x - ax - t * (bx - ax), y - ay - t * (by - ay))


def assert_stroke_mask(mask: bytes, a, b, radius: float) -> None:
    """Transparent within the stroke, opaque outside it (a pixel's width of antialiasing)."""
    with Image.open(io.BytesIO(mask)) as img:
        alpha = img.convert("RGBA").getchannel("A")
    edited = alpha.point(lambda v: 255 if v < 128 else 0)
    left, top = min(a[0], b[0]) - radius, min(a[1], b[1]) - radius
    right, bottom = max(a[0], b[0]) + radius, max(a[1], b[1]) + radius
    bbox = edited.getbbox()
    assert bbox is not None, "nothing in the mask is transparent"
    assert abs(bbox[0] - left) <= 2 and abs(bbox[1] - top) <= 2, (bbox, (left, top))
    assert abs(bbox[2] - right) <= 2 and abs(bbox[3] - bottom) <= 2, (bbox, (right, bottom))
    pixels = alpha.load()
    wrong = []
    for y in range(bbox[1], bbox[3]):
        for x in range(bbox[0], bbox[2]):
            d = distance_to_segment(x + 0.5, y + 0.5, a, b)
            if (d < radius - 1.5 and pixels[x, y] != 0) or (
                d > radius + 1.5 and pixels[x, y] != 255
            ):
                wrong.append((x, y, pixels[x, y], round(d, 1)))
    assert not wrong, f"{len(wrong)} pixels disagree with the stroke, e.g. {wrong[:5]}"


async def expire_newest_link(store) -> None:
    """Move the newest link's expiry into the past, as 15 minutes would."""
    async with store._engine.begin() as conn:
        newest = await conn.scalar(
            sa.select(paint_links.c.id).order_by(paint_links.c.created_at.desc()).limit(1)
        )
        past = datetime.now(UTC) - timedelta(minutes=1)
        await conn.execute(
            paint_links.update().where(paint_links.c.id == newest).values(expires_at=past)
        )


# -- the button -------------------------------------------------------------------------------


async def test_no_paint_button_without_public_url(easel, world):
    fake, _guild, channel, alice, _bob = world
    result = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "a lake"}))
    assert result.attachments
    assert not [c for c in result.custom_ids() if c.startswith("easel:paint:")]
    opened = await fake.message_command(alice, result, "Edit image")
    modal = await opened.wait_modal()
    assert "Paint it in the browser" not in str(modal)


async def test_private_results_have_no_paint_button(painting, world):
    fake, _guild, channel, alice, _bob = world
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "a lake", "private": True})
    result = await outcome(fake, handle)
    assert result.attachments and handle.ephemeral
    assert not [c for c in result.custom_ids() if c.startswith("easel:paint:")]


async def test_health_and_paint_share_one_port(easel, world):
    fake, _guild, channel, alice, _bob = world
    port = free_port()
    await easel.restart(public_url=f"http://127.0.0.1:{port}", health_port=port)
    await fake.wait_for_commands(["imagine"])
    result = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "a lake"}))
    url = await paint_link(fake, alice, result)
    async with httpx.AsyncClient(timeout=20) as client:
        health = await client.get(f"http://127.0.0.1:{port}/health")
        page = await client.get(url)
    assert health.status_code == 200 and health.json()["store"] == "ok"
    assert page.status_code == 200 and "paint.js" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


# -- the page, in a real browser ----------------------------------------------------------------


async def test_paint_a_stroke_and_send_it(painting, world, router, chromium_path):  # noqa: F811
    fake, _guild, channel, alice, _bob = world
    result = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "a lake"}))
    url = await paint_link(fake, alice, result)
    origin = url.split("/paint/")[0]
    async with browser_page(chromium_path) as page:
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        response = await page.goto(url)
        assert response is not None and response.status == 200
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert response.headers["referrer-policy"] == "no-referrer"
        await page.wait_for_selector("body[data-ready=yes]")
        assert await page.input_value("#prompt") == "a lake"
        assert await page.locator("#model option").count() >= 1
        box = await page.locator("#paint").bounding_box()
        assert box is not None
        scale = 1024 / box["width"]
        size = int(await page.input_value("#size"))
        start, end = (150.0, 300.0), (500.0, 340.0)
        await page.mouse.move(box["x"] + start[0], box["y"] + start[1])
        await page.mouse.down()
        await page.mouse.move(box["x"] + end[0], box["y"] + end[1], steps=25)
        await page.mouse.up()
        await page.fill("#prompt", "a red boat on the lake")
        await page.click("#send")
        await page.wait_for_selector("#sent:not([hidden])")
        assert "Sent: look in Discord" in await page.inner_text("#sent")
        await page.wait_for_selector("body[data-state=done]", timeout=60000)
        assert "Done" in await page.inner_text("#progress")
    assert asked and all(u.startswith(origin) for u in asked), "a request left Easel's origin"

    await painting.idle()
    [job] = await edit_jobs(painting.store)
    request = edits_to(router)[-1]
    assert request.body["prompt"] == "a red boat on the lake"
    mask = await painting.store.get_image(job.mask_image)
    assert hashlib.sha256(mask).hexdigest() == request.body["mask"]["sha256"]
    assert (request.body["mask"]["width"], request.body["mask"]["height"]) == (1024, 1024)
    a = (start[0] * scale, start[1] * scale)
    b = (end[0] * scale, end[1] * scale)
    assert_stroke_mask(mask, a, b, size * scale / 2)
    # Posted like any edit: in the channel, as a reply to the painted result.
    answer = await fake.world.wait_until(
        lambda: next(
            (
                m
                for m in fake.messages(channel)
                if m.referenced_id == result.id and m.embeds and m.attachments
            ),
            None,
        ),
        30,
        "the painted edit posted as a reply",
    )
    assert "a red boat on the lake" in answer.embeds[0]["description"]
    assert job.user_id == str(alice.id) and job.parent_job_id is not None


async def test_forged_expired_and_reused_links_get_a_clear_page_and_no_job(
    painting,
    world,
    router,
    chromium_path,  # noqa: F811
):
    fake, _guild, channel, alice, _bob = world
    result = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "a hill"}))
    good, stale = await paint_link(fake, alice, result), await paint_link(fake, alice, result)
    forged = good[:-3] + ("aaa" if not good.endswith("aaa") else "bbb")
    await expire_newest_link(painting.store)
    mask = mask_png((1024, 1024), (100, 100, 300, 300))

    assert (await post_mask(forged, mask)).status_code == 403
    assert (await post_mask(stale, mask)).status_code == 410
    sent = await post_mask(good, mask)
    assert sent.status_code == 200, sent.text
    again = await post_mask(good, mask)
    assert again.status_code == 410 and "already" in again.json()["title"]
    async with browser_page(chromium_path) as page:
        for url, status, title in (
            (forged, 403, "This link isn't valid"),
            (stale, 410, "This link has expired"),
            (good, 410, "This link was already used"),
        ):
            response = await page.goto(url)
            assert response is not None and response.status == status, url
            assert await page.inner_text("h1") == title
            assert "Paint a region" in await page.inner_text("#reason")
    await painting.idle()
    assert len(await edit_jobs(painting.store)) == 1, "only the good link's first use made a job"


async def test_bad_masks_are_refused_and_the_link_still_works(painting, world, router):
    fake, _guild, channel, alice, _bob = world
    result = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "a sea"}))
    url = await paint_link(fake, alice, result)
    small = await post_mask(url, mask_png((512, 512), (0, 0, 10, 10)))
    assert small.status_code == 400 and "1024×1024" in small.json()["error"]
    blank = await post_mask(url, mask_png((1024, 1024), (0, 0, 0, 0)))
    assert blank.status_code == 400 and "Nothing is painted" in blank.json()["error"]
    empty = await post_mask(url, mask_png((1024, 1024), (0, 0, 10, 10)), prompt="  ")
    assert empty.status_code == 400
    typed = await post_mask(url, mask_png((1024, 1024), (0, 0, 10, 10)), mask_type="image/jpeg")
    assert typed.status_code == 400 and "PNG" in typed.json()["error"]
    model = await post_mask(url, mask_png((1024, 1024), (0, 0, 10, 10)), model="no/such-model")
    assert model.status_code == 400
    assert not await edit_jobs(painting.store)
    sent = await post_mask(url, mask_png((1024, 1024), (0, 0, 10, 10)))
    assert sent.status_code == 200, sent.text


async def test_edit_image_form_offers_a_paint_link(painting, world, router):
    fake, _guild, channel, alice, _bob = world
    photo = io.BytesIO()
    Image.new("RGB", (80, 60), "green").save(photo, format="PNG")
    post = await fake.post_message(alice, channel, "x", attachments=[("p.png", photo.getvalue())])
    opened = await fake.message_command(alice, post, "Edit image")
    assert "Paint it in the browser" in str(await opened.wait_modal())
    handle = await fake.submit_modal(alice, opened, {"instruction": "a hat", "region": ["paint"]})
    await handle.wait_ack(3)
    message = await fake.world.wait_until(
        lambda: next(
            (
                m
                for m in [handle.original_message, *handle.followups]
                if m and URL.search(m.content or "")
            ),
            None,
        ),
        20,
        "the paint link",
    )
    url = URL.search(message.content)[0]
    async with httpx.AsyncClient(timeout=20) as client:
        info = (await client.get(f"{url}/info")).json()
        assert (info["width"], info["height"], info["prompt"]) == (80, 60, "a hat")
    sent = await post_mask(url, mask_png((80, 60), (0, 0, 40, 30)))
    assert sent.status_code == 200, sent.text
    await painting.idle()
    [job] = await edit_jobs(painting.store)
    assert job.origin["reply_to"] == str(post.id)


async def test_keyboard_and_touch_paint_too(painting, world, router, chromium_path):  # noqa: F811
    fake, _guild, channel, alice, _bob = world
    result = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "a lake"}))
    url = await paint_link(fake, alice, result)
    async with browser_page(chromium_path, has_touch=True) as page:
        await page.goto(url)
        await page.wait_for_selector("body[data-ready=yes]")
        box = await page.locator("#paint").bounding_box()
        assert box is not None
        scale = 1024 / box["width"]
        # A finger's tap is a dot of the brush's size.
        await page.touchscreen.tap(box["x"] + 100, box["y"] + 100)
        # The keyboard: R for the rectangle, Enter at two corners moved to with the arrows.
        await page.focus("#paint")
        await page.keyboard.press("r")
        await page.keyboard.press("Enter")  # the cursor starts in the middle
        for key in ("ArrowRight", "ArrowDown"):
            for _ in range(5):
                await page.keyboard.press(key)
        await page.keyboard.press("Enter")
        # An extra dot, taken back with Ctrl+Z.
        await page.keyboard.press("b")
        await page.keyboard.press("Enter")
        await page.keyboard.press("Control+z")
        await page.click("#send")
        await page.wait_for_selector("#sent:not([hidden])")
    await painting.idle()
    [job] = await edit_jobs(painting.store)
    with Image.open(io.BytesIO(await painting.store.get_image(job.mask_image))) as img:
        alpha = img.convert("RGBA").getchannel("A")
    side = 50 * scale  # five steps of 10 screen pixels
    assert alpha.getpixel((int(100 * scale), int(100 * scale))) == 0, "the tap"
    assert alpha.getpixel((512 + int(side / 2), 512 + int(side / 2))) == 0, "the rectangle"
    assert alpha.getpixel((int(512 + side + 3), 512 + int(side / 2))) == 255, "past its edge"
    undone = (int(512 + side + 12 * scale), int(512 + side))  # in the dot, beside the rectangle
    assert alpha.getpixel(undone) == 255, "the dot that was undone"
