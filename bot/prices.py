"""The catalog's price table: what one job should cost before the router says, per model and
shape. Figures are the providers' list prices per image (api-facts); the measured median of
recent jobs of the same shape refines them (``bot.budgets``)."""

from __future__ import annotations

from bot.catalog import ModelInfo
from bot.domain import ApiFamily, ImageSpec

# GPT Image per 1024×1024 image, by quality; other sizes cost about 1.5 times as much.
# "auto" is priced as medium, which is what the router picks for a plain prompt.
IMAGES_PRICES: dict[str, dict[str, float]] = {
    "gpt-image-1.5": {"low": 0.009, "medium": 0.034, "high": 0.133},
    "gpt-image-1": {"low": 0.011, "medium": 0.042, "high": 0.167},
}
# Gemini image models per image, by resolution tier (output tokens × the model's token price).
CHAT_PRICES: dict[str, dict[str, float]] = {
    "gemini-2.5-flash-image": {"1K": 0.039, "2K": 0.039, "4K": 0.039},
    "gemini-3.1-flash-image": {"1K": 0.0672, "2K": 0.0672, "4K": 0.12},
    "gemini-3-pro-image": {"1K": 0.1344, "2K": 0.1344, "4K": 0.24},
}
INPUT_IMAGE = 0.003  # each input image sent along, roughly, on any model


def shape_of(spec: ImageSpec) -> str:
    """The key recent costs are grouped by: size or ratio, quality, resolution and count."""
    size = spec.size or spec.aspect_ratio or "auto"
    return f"{size}|{spec.quality or 'auto'}|{spec.resolution or '1K'}|{spec.n}"


def list_price(model: ModelInfo, spec: ImageSpec, inputs: int = 0) -> float:
    """The table's price of one job: ``spec.n`` images plus its inputs."""
    extra = INPUT_IMAGE * inputs
    if model.family is ApiFamily.IMAGES:
        table = _pick(IMAGES_PRICES, model.id, "gpt-image-1")
        quality = spec.quality if spec.quality in table else "medium"
        square = spec.size in (None, "auto", "1024x1024")
        return table[quality] * (1 if square else 1.5) * spec.n + extra
    table = _pick(CHAT_PRICES, model.id, "gemini-3-pro-image")
    return table.get(spec.resolution or "1K", table["1K"]) * spec.n + extra


def _pick(tables: dict[str, dict[str, float]], model_id: str, default: str) -> dict[str, float]:
    # The longest name contained in the id wins: "gpt-image-1.5" before "gpt-image-1".
    for name in sorted(tables, key=len, reverse=True):
        if name in model_id:
            return tables[name]
    return tables[default]
