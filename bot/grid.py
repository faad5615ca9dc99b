"""The labelled grid a comparison posts: each model's image in a row of tiles, with the model,
its cost and its seconds under it. A plain synchronous function that decodes every image:
callers run it through ``asyncio.to_thread``; it holds a decode slot (``images.decoding``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from bot import images, media

TILE = 512  # each image is fitted into a TILE×TILE square
LABEL = 64  # the strip under each tile
GAP = 8


@dataclass(frozen=True)
class Tile:
    image: bytes
    lines: tuple[str, ...]  # printed under the image, one per line


def labelled_grid(tiles: Sequence[Tile]) -> bytes:
    """One PNG with the tiles side by side (two rows for four), each labelled."""
    columns = 2 if len(tiles) == 4 else len(tiles)
    rows = -(-len(tiles) // columns)
    width = columns * TILE + (columns + 1) * GAP
    height = rows * (TILE + LABEL) + (rows + 1) * GAP
    font = ImageFont.load_default(size=22)
    with images.decoding(), images.mapped():
        grid = Image.new("RGB", (width, height), (32, 34, 37))
        draw = ImageDraw.Draw(grid)
        for index, tile in enumerate(tiles):
            x = GAP + (index % columns) * (TILE + GAP)
            y = GAP + (index // columns) * (TILE + LABEL + GAP)
            _paste(grid, tile.image, x, y)
            for line_no, line in enumerate(tile.lines[:2]):
                draw.text((x + 6, y + TILE + 4 + 28 * line_no), line, fill="white", font=font)
        return images.encode(grid, media.PNG)


def _paste(grid: Image.Image, data: bytes, x: int, y: int) -> None:
    img, _ = images.open_image(data, images.DEFAULT_MAX_PIXELS)
    with img:
        picture = img.convert("RGBA")
    picture.thumbnail((TILE, TILE), Image.Resampling.LANCZOS)
    left, top = x + (TILE - picture.width) // 2, y + (TILE - picture.height) // 2
    grid.paste(picture, (left, top), picture)
