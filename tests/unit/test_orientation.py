"""A photo whose EXIF says "turned" is handled as it is shown: its size, its regions, its mask."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot import fitting, images, masks
from bot.errors import MaskMismatch

# Stored 60 wide and 40 high, with its left half red; orientation 6 shows it turned a quarter
# clockwise: 40 wide and 60 high, with the red half on top.
STORED = (60, 40)
SHOWN = (40, 60)


def turned_jpeg() -> bytes:
    img = Image.new("RGB", STORED, (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 30, 40))
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    img.save(out, "JPEG", quality=95, exif=exif)
    return out.getvalue()


def test_identify_reports_the_shown_size():
    info = images.identify(turned_jpeg())
    assert (info.width, info.height, info.orientation) == (*SHOWN, 6)


def test_the_input_is_sent_upright():
    data = turned_jpeg()
    prepared = fitting.prepare_input(data, max_bytes=10_000_000, max_pixels=10**7, name="p.jpg")
    sent = Image.open(io.BytesIO(prepared.data))
    assert images.orientation(sent) == 1  # no turn left for the model to apply again
    img = sent.convert("RGB")
    assert img.size == SHOWN
    top, bottom = img.getpixel((20, 10)), img.getpixel((20, 50))
    assert top[0] > 200 and top[2] < 60, top  # red on top, as the user sees it
    assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_a_region_is_drawn_on_the_shown_shape_and_fits_the_sent_image():
    info = images.identify(turned_jpeg())
    mask = masks.region_mask((info.width, info.height), "top")
    alpha = Image.open(io.BytesIO(mask)).getchannel("A")
    assert alpha.size == SHOWN
    assert alpha.getpixel((20, 5)) == 0 and alpha.getpixel((20, 55)) == 255
    assert masks.prepare_mask(mask, SHOWN).data  # the mask check agrees with the shape sent


def test_a_mask_drawn_on_the_stored_shape_is_refused_by_name():
    stored_shape_mask = io.BytesIO()
    Image.new("L", STORED, 255).save(stored_shape_mask, "PNG")
    with pytest.raises(MaskMismatch, match="60×40 but the image is 40×60"):
        masks.mask_preview(turned_jpeg(), stored_shape_mask.getvalue())


def test_the_preview_shows_the_photo_upright():
    mask = masks.region_mask(SHOWN, "bottom")
    preview = Image.open(io.BytesIO(masks.mask_preview(turned_jpeg(), mask))).convert("RGB")
    assert preview.size == SHOWN
    r, _g, b = preview.getpixel((20, 10))  # the top (red, kept) is only dimmed
    assert r > b
