"""The memory bounds on decoding: the process-wide decode slots, and the lower pixel cap for an
input that must be decoded to be converted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from PIL import Image

from bot import fitting, images, masks, media
from bot.catalog import Catalog
from bot.config import load_settings
from bot.errors import ImageTooLarge
from bot.inputs import Limits, RawImage, prepare_inputs
from tests.unit.pictures import MIB, decode, encode, noisy, photo_like, png_declaring

GEMINI = "vertex/google/gemini-3-pro-image-preview"


@pytest.fixture(autouse=True)
def default_slots() -> Iterator[None]:
    yield
    images.configure(images.DEFAULT_MAX_CONCURRENT_DECODES)  # tests resize the process's bound


def palette_gif(size: tuple[int, int]) -> bytes:
    """A two-colour GIF: LZW keeps even millions of pixels small."""
    img = Image.new("P", size, 0)
    img.putpalette([0, 0, 0, 230, 40, 40])
    img.paste(1, (10, 10, size[0] // 2, size[1] // 2))
    return encode(img, "GIF")


@contextmanager
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if anything asks for a decode slot (that is, decodes pixels)."""

    @contextmanager
    def refuse() -> Iterator[None]:
        raise AssertionError("decoded pixels")
        yield  # pragma: no cover

    with monkeypatch.context() as patch:
        patch.setattr(images, "decoding", refuse)
        yield


# --- the decode cap -----------------------------------------------------------------------


def test_a_gif_over_the_decode_cap_is_refused_before_decoding(monkeypatch) -> None:
    gif = palette_gif((3000, 3000))  # 9 megapixels: under the header cap, over the decode cap
    with no_decoding(monkeypatch), pytest.raises(ImageTooLarge) as info:
        fitting.prepare_input(
            gif, max_bytes=MIB, max_pixels=50_000_000, max_decode_pixels=8 * 10**6
        )
    message = info.value.user_message
    assert "too many pixels" in message and "3000×3000 (9.0 megapixels)" in message
    assert "the limit is 8 megapixels. Send a smaller version" in message


def test_a_big_png_kept_as_is_passes_the_decode_cap(monkeypatch) -> None:
    png = png_declaring(8000, 4000)  # 32 megapixels, a few KB: sent as it is, never decoded
    with no_decoding(monkeypatch):
        prepared = fitting.prepare_input(
            png, max_bytes=MIB, max_pixels=50_000_000, max_decode_pixels=24_000_000
        )
    assert prepared.data is png and prepared.mime == media.PNG


def test_a_gif_under_the_decode_cap_is_still_converted() -> None:
    gif = palette_gif((2000, 1500))
    prepared = fitting.prepare_input(
        gif, max_bytes=MIB, max_pixels=50_000_000, max_decode_pixels=3_000_000
    )
    assert prepared.mime == media.PNG and decode(prepared.data).size == (2000, 1500)


def test_a_jpeg_over_the_decode_cap_is_decoded_smaller_instead() -> None:
    jpeg = encode(photo_like((2400, 1600)), "JPEG", quality=95)
    prepared = fitting.prepare_input(
        jpeg, max_bytes=len(jpeg) - 1, max_pixels=50_000_000, max_decode_pixels=900_000
    )
    # libjpeg's 1/2 would be 0.96 megapixels, over the cap: 1/4 it is.
    assert decode(prepared.data).size == (600, 400)


def test_without_a_decode_cap_the_header_cap_still_rules() -> None:
    gif = palette_gif((2000, 1500))
    prepared = fitting.prepare_input(gif, max_bytes=MIB, max_pixels=3_000_000)
    assert decode(prepared.data).size == (2000, 1500)


async def test_prepare_inputs_names_the_file_over_the_decode_cap() -> None:
    model = Catalog.load().get(GEMINI)
    limits = Limits(max_decode_pixels=8 * 10**6)
    raw = RawImage(palette_gif((3000, 3000)), "huge.gif")
    with pytest.raises(ImageTooLarge, match=r"^huge\.gif: That image has too many pixels"):
        await prepare_inputs(model, [raw], None, limits)


def test_limits_from_settings_carry_the_decode_cap() -> None:
    settings = load_settings(_env_file=None, max_decode_pixels=30_000_000)
    assert Limits.from_settings(settings).max_decode_pixels == 30_000_000
    assert Limits().max_decode_pixels == Limits.from_settings(load_settings()).max_decode_pixels


def test_a_big_shrink_box_reduces_once_before_the_tries(monkeypatch) -> None:
    resized: list[tuple[int, int]] = []
    real = fitting._resize

    def spy(img: Image.Image, size: tuple[int, int]) -> Image.Image:
        resized.append(img.size)
        return real(img, size)

    monkeypatch.setattr(fitting, "_resize", spy)
    data = encode(noisy((2000, 1500)), "PNG")  # noise: 50 KB of JPEG holds ~1/25 of its pixels
    fitted = fitting.fit_under(data, 50_000)
    assert len(fitted.data) <= 50_000 and fitted.scaled
    # Every try resized from the half-size copy, not from the full image.
    assert (1000, 750) in resized and (2000, 1500) not in resized


# --- the decode slots ---------------------------------------------------------------------


class Gauge:
    """Counts how many calls of a wrapped function run at once."""

    def __init__(self) -> None:
        self.now = self.most = 0
        self._lock = threading.Lock()

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.now += 1
                self.most = max(self.most, self.now)
            try:
                time.sleep(0.05)  # long enough for every thread to pile up at the slots
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.now -= 1

        return counted


def at_once(call: Callable[[], object], threads: int = 6) -> None:
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(call) for _ in range(threads)]:
            future.result()


@pytest.mark.parametrize("slots", [1, 2, 3])
def test_slots_bound_fitting_from_many_threads(monkeypatch, slots: int) -> None:
    images.configure(slots)
    gauge = Gauge()
    monkeypatch.setattr(fitting, "_fit", gauge.wrap(fitting._fit))
    big = encode(noisy((300, 200)), "PNG")
    at_once(lambda: fitting.fit_under(big, 50_000))
    assert gauge.most == slots


def test_slots_bound_input_preparation_and_masks(monkeypatch) -> None:
    gauge = Gauge()
    monkeypatch.setattr(fitting, "_fit", gauge.wrap(fitting._fit))
    monkeypatch.setattr(masks, "edit_alpha", gauge.wrap(masks.edit_alpha))
    monkeypatch.setattr(masks, "region_alpha", gauge.wrap(masks.region_alpha))
    photo = encode(noisy((300, 200)), "PNG")
    mask = encode(Image.new("L", (300, 200), 255), "PNG")
    calls = [
        lambda: fitting.prepare_input(photo, max_bytes=50_000, max_pixels=10**6),
        lambda: masks.prepare_mask(mask, (300, 200)),
        lambda: masks.mask_preview(photo, mask),
        lambda: masks.region_mask((300, 200), "left"),
    ]
    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(call) for call in calls * 2]:
            future.result()
    assert gauge.most == images.DEFAULT_MAX_CONCURRENT_DECODES


def test_nested_decoding_takes_no_second_slot() -> None:
    images.configure(1)
    with images.decoding(), images.decoding():  # would deadlock if it took another
        images.encode(Image.new("RGB", (8, 8)), media.PNG)
    done = threading.Event()

    def other() -> None:
        with images.decoding():
            done.set()

    threading.Thread(target=other, daemon=True).start()
    assert done.wait(2), "the slot was not given back"


def test_header_reads_take_no_slot(monkeypatch) -> None:
    png = encode(noisy((40, 30)), "PNG")
    with no_decoding(monkeypatch):
        assert images.identify(png).width == 40
        fitted = fitting.fit_under(png, MIB)  # kept as is
    assert fitted.data is png


@pytest.mark.parametrize("bad", [0, 33])
def test_configure_refuses_a_bound_out_of_range(bad: int) -> None:
    with pytest.raises(ValueError, match="1–32"):
        images.configure(bad)


def test_limits_from_settings_size_the_slots(monkeypatch) -> None:
    Limits.from_settings(load_settings(_env_file=None, max_concurrent_decodes=3))
    gauge = Gauge()
    monkeypatch.setattr(masks, "region_alpha", gauge.wrap(masks.region_alpha))
    at_once(lambda: masks.region_mask((64, 64), "top"))
    assert gauge.most == 3
