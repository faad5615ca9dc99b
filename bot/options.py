"""What a user asked for, as the spec the chosen model takes, naming every option it can't use
("format ignored: Gemini 3 Pro Image answers PNG") instead of dropping it silently."""

from __future__ import annotations

from bot.catalog import Catalog, ModelInfo
from bot.domain import ApiFamily, ImageSpec
from bot.errors import InvalidOption

# Images models take three sizes; an aspect ratio picks the nearest.
LANDSCAPE, PORTRAIT, SQUARE = "1536x1024", "1024x1536", "1024x1024"
_EXACT = {SQUARE: "1:1", LANDSCAPE: "3:2", PORTRAIT: "2:3"}


def size_for_aspect(aspect: str | None) -> str | None:
    if aspect is None:
        return None
    width, height = (int(x) for x in aspect.split(":"))
    return SQUARE if width == height else LANDSCAPE if width > height else PORTRAIT


def spec_for(
    model: ModelInfo,
    *,
    n: int = 1,
    aspect: str | None = None,
    resolution: str | None = None,
    quality: str | None = None,
    output_format: str | None = None,
    background: str | None = None,
) -> tuple[ImageSpec, list[str]]:
    """The spec for ``model`` and a note for each option it ignores or approximates."""
    notes = []
    if model.family is ApiFamily.CHAT:
        for name, value in (("quality", quality), ("format", output_format)):
            if value:
                notes.append(f"{name} ignored: {model.label} answers PNG at its own quality.")
        if background:
            notes.append(
                f"background ignored: {model.label} chooses its own background; "
                "a GPT Image model makes transparent ones."
            )
        spec = ImageSpec(model=model.id, n=n, aspect_ratio=aspect, resolution=resolution)
        return spec, notes
    if resolution:
        notes.append(
            f"resolution ignored: {model.label} makes 1024–1536 px images; "
            "a Gemini model makes 2K and 4K."
        )
    size = size_for_aspect(aspect)
    if size and _EXACT[size] != aspect:
        notes.append(f"aspect {aspect} became {size}, the nearest size {model.label} makes.")
    if background == "transparent" and output_format is None:
        output_format = "png"  # transparency needs PNG or WebP; the router's default may not be
    spec = ImageSpec(
        model=model.id,
        n=n,
        size=size,
        quality=quality,
        output_format=output_format,
        background=background,
    )
    return spec, notes


def edit_model(
    catalog: Catalog, default: str, *, made_by: str | None = None, asked: str | None = None
) -> tuple[ModelInfo, list[str]]:
    """The model an edit runs on: the one asked for; else the one that made the image, when it
    can edit; else the default, saying why."""
    if asked:
        return named_model(catalog, asked), []
    fallback = catalog.get(default)
    if made_by is None or made_by not in catalog:
        return fallback, []
    maker = catalog.get(made_by)
    if maker.max_inputs >= 1:
        return maker, []
    return fallback, [f"Edited with {fallback.label}: {maker.label} can't edit images."]


def named_model(catalog: Catalog, name: str) -> ModelInfo:
    """A model by id, or by a piece of its id or label that names only one."""
    if name in catalog:
        return catalog.get(name)
    hits = catalog.search(name)
    if len(hits) == 1:
        return hits[0]
    offered = ", ".join(m.id for m in (hits or list(catalog))[:8])
    raise InvalidOption(f"I can't tell which model {name!r} means. Try one of: {offered}.")
