"""Draw the README's pictures: what Discord shows for each scene of ``docs/screens.py`` (the real
bot's messages as the fake Discord recorded them), as a Discord-like card drawn with Pillow.

    .venv/bin/python docs/render_screens.py [OUT_DIR]      (default docs/images)

Run it again after changing what the bot posts; the pictures follow the code.
"""

from __future__ import annotations

import asyncio
import io
import re
import sys
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from docs.screens import Scene, collect  # noqa: E402

WIDTH = 760
PAD = 16
TEXT_X = 72  # right of the avatar
BG, EMBED_BG, TEXT, MUTED, WHITE = "#313338", "#2b2d31", "#dbdee1", "#949ba4", "#f2f3f5"
BUTTONS = {1: "#5865f2", 2: "#4e5058", 3: "#248046", 4: "#da373c", 5: "#4e5058"}
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    try:
        return ImageFont.truetype(str(FONT_DIR / name), size)
    except OSError:
        return ImageFont.load_default(size)


REGULAR, BOLD, SMALL, SMALL_BOLD = font(15), font(15, True), font(12), font(12, True)


def plain(text: str, names: dict[str, str]) -> str:
    """Discord markdown to the text it shows: mentions named, emphasis marks and emoji gone."""
    text = re.sub(r"<@!?(\d+)>", lambda m: "@" + names.get(m.group(1), "someone"), text)
    text = re.sub(r"\*\*|__|`", "", text)
    # The fonts have no colour emoji; drop them rather than draw empty boxes.
    return "".join(ch for ch in text if ord(ch) < 0x1F000 and ch != "\ufe0f").strip()


def wrap(text: str, face: Any, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}".strip()
            if line and face.getlength(candidate) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


class Card:
    """A canvas drawn top to bottom, cropped to what was drawn."""

    def __init__(self, width: int = WIDTH, background: str = BG) -> None:
        self.width = width
        self.image = Image.new("RGB", (width, 2400), background)
        self.draw = ImageDraw.Draw(self.image)
        self.y = PAD

    def text(self, x: int, lines: list[str], face: Any, fill: str, step: int = 20) -> None:
        for line in lines:
            self.draw.text((x, self.y), line, font=face, fill=fill)
            self.y += step

    def done(self) -> Image.Image:
        return self.image.crop((0, 0, self.width, self.y + PAD))


def render(scene: Scene) -> Image.Image:
    card = Card()
    names = scene.names
    if scene.command:
        card.text(TEXT_X, [f"alice used {scene.command}"], SMALL, MUTED, step=22)
    _header(card, scene)
    if scene.content:
        _content(card, plain(scene.content, names))
    for embed in scene.embeds:
        _embed(card, embed, scene)
    for row in scene.components:
        _buttons(card, row)
    return card.done()


def _header(card: Card, scene: Scene) -> None:
    top = card.y
    card.draw.ellipse((PAD, top, PAD + 40, top + 40), fill="#5865f2")
    card.draw.text((PAD + 20, top + 20), scene.author[:1], font=BOLD, fill=WHITE, anchor="mm")
    card.draw.text((TEXT_X, top), scene.author, font=BOLD, fill=WHITE)
    x = TEXT_X + int(BOLD.getlength(scene.author)) + 8
    card.draw.rounded_rectangle((x, top + 2, x + 34, top + 18), 3, fill="#5865f2")
    card.draw.text((x + 17, top + 10), "APP", font=SMALL_BOLD, fill=WHITE, anchor="mm")
    note = "Today at 09:41" + ("  ·  Only you can see this" if scene.ephemeral else "")
    card.draw.text((x + 44, top + 3), note, font=SMALL, fill=MUTED)
    card.y = top + 24


def _content(card: Card, text: str) -> None:
    for line in text.splitlines():
        if line.startswith("> "):
            top = card.y
            card.text(TEXT_X + 12, wrap(line[2:], REGULAR, WIDTH - TEXT_X - 40), REGULAR, TEXT)
            card.draw.rectangle((TEXT_X, top, TEXT_X + 3, card.y - 2), fill="#4e5058")
        else:
            card.text(TEXT_X, wrap(line, REGULAR, WIDTH - TEXT_X - PAD), REGULAR, TEXT)
    card.y += 4


def _embed(card: Card, embed: dict[str, Any], scene: Scene) -> None:
    """The embed on its own canvas (its height is known once laid out), then pasted in."""
    names = scene.names
    box = Card(WIDTH - TEXT_X - PAD, EMBED_BG)
    box.y, inner, width = 12, 16, box.width - 32
    if embed.get("author"):
        box.text(inner, [plain(embed["author"]["name"], names)], SMALL_BOLD, WHITE, step=22)
    if embed.get("title"):
        box.text(inner, wrap(plain(embed["title"], names), BOLD, width), BOLD, WHITE, step=22)
    if embed.get("description"):
        box.text(inner, wrap(plain(embed["description"], names), REGULAR, width), REGULAR, TEXT)
        box.y += 6
    _fields(box, embed.get("fields") or [], inner, width, names)
    picture = _picture(embed, scene)
    if picture is not None:
        box.image.paste(picture, (inner, box.y))
        box.y += picture.height + 8
    if embed.get("footer"):
        box.text(inner, wrap(plain(embed["footer"]["text"], names), SMALL, width), SMALL, MUTED)
    box.y -= PAD - 8
    drawn = box.done()
    top = card.y + 4
    card.image.paste(drawn, (TEXT_X, top))
    colour = f"#{embed.get('color', 0x5865F2):06x}"
    card.draw.rectangle((TEXT_X, top, TEXT_X + 3, top + drawn.height - 1), fill=colour)
    card.y = top + drawn.height + 8


def _fields(card: Card, fields: list[dict[str, Any]], x: int, width: int, names: dict) -> None:
    column = width // 3
    row: list[dict[str, Any]] = []
    for item in [*fields, None]:
        if item is not None and item.get("inline") and len(row) < 3:
            row.append(item)
            continue
        if row:
            _field_row(card, row, x, column, names)
            row = []
        if item is not None and item.get("inline"):
            row.append(item)
        elif item is not None:
            _field_row(card, [item], x, width, names)


def _field_row(card: Card, row: list[dict[str, Any]], x: int, column: int, names: dict) -> None:
    top, tallest = card.y, 0
    for index, item in enumerate(row):
        card.y = top
        left = x + index * column
        card.text(left, [plain(item["name"], names)], SMALL_BOLD, WHITE, step=18)
        card.text(left, wrap(plain(item["value"], names), REGULAR, column - 8), REGULAR, TEXT)
        tallest = max(tallest, card.y - top)
    card.y = top + tallest + 6


def _picture(embed: dict[str, Any], scene: Scene) -> Image.Image | None:
    url = (embed.get("image") or {}).get("url", "")
    data = scene.images.get(url.removeprefix("attachment://"))
    if data is None:
        return None
    with Image.open(io.BytesIO(data)) as picture:
        picture = picture.convert("RGB")
        picture.thumbnail((400, 400))
        return picture


def _buttons(card: Card, row: dict[str, Any]) -> None:
    x = TEXT_X
    for button in row.get("components", []):
        label = plain(button.get("label") or "", {})
        width = int(REGULAR.getlength(label)) + 32
        fill = BUTTONS.get(button.get("style", 2), BUTTONS[2])
        card.draw.rounded_rectangle((x, card.y, x + width, card.y + 32), 4, fill=fill)
        card.draw.text((x + width / 2, card.y + 16), label, font=REGULAR, fill=WHITE, anchor="mm")
        x += width + 8
    card.y += 40


def main(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    scenes = asyncio.run(collect())
    written = []
    for scene in scenes:
        path = out / f"{scene.name}.png"
        render(scene).save(path, optimize=True)
        written.append(path)
    return written


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images"):
        print(path)
