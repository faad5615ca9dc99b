"""The built-in catalog of each router kind: the model ids that router spells, and their prices.

Prices are list prices in USD (OpenAI's image-generation guide; Google's Gemini pricing for
the image tokens); a router may add its margin. The live ``GET /models`` list replaces the
price where the router reports one (OpenRouter's ``pricing.image_output``).
"""

from __future__ import annotations

from dataclasses import replace

from bot.catalog import (
    BUILTIN_MODELS,
    RESOLUTIONS,
    ModelInfo,
    TokenPrices,
    _chat_model,
    _images_model,
)
from bot.domain import ApiFamily

# Output tokens per image by quality and size (OpenAI image-generation guide).
OUTPUT_TOKENS = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
# By the model's own name, whatever prefix a router puts before it. Longest names first.
TOKEN_PRICES = {
    "gpt-image-1-mini": TokenPrices(text_input=2.0, image_input=2.5, output=8.0),
    "gpt-image-1.5": TokenPrices(text_input=5.0, image_input=8.0, output=32.0),
    "gpt-image-1": TokenPrices(text_input=5.0, image_input=10.0, output=40.0),
}
# Chat image models: output tokens per image by tier, and USD per million output tokens.
GEMINI_IMAGE = {
    "gemini-2.5-flash-image": ({"1K": 1290, "2K": 1290, "4K": 1290}, 30.0),
    "gemini-3-pro-image": ({"1K": 1120, "2K": 1120, "4K": 2000}, 120.0),
    "gemini-3.1-flash-image": ({"1K": 1120, "2K": 1120, "4K": 2000}, 60.0),
}


def priced(model: ModelInfo) -> ModelInfo:
    """The model with its built-in prices, found by the name after the router's prefix."""
    name = model.id.rsplit("/", 1)[-1]
    if model.family is ApiFamily.IMAGES:
        for base, prices in TOKEN_PRICES.items():
            if name.startswith(base):
                table = {
                    f"{quality} {size}": round(tokens * prices.output / 1_000_000, 4)
                    for quality, sizes in OUTPUT_TOKENS.items()
                    for size, tokens in sizes.items()
                }
                return replace(model, prices=table, token_prices=prices)
        return model
    for base, (tokens, rate) in GEMINI_IMAGE.items():
        if name.startswith(base):
            table = {tier: round(count * rate / 1_000_000, 4) for tier, count in tokens.items()}
            return replace(model, prices=table, image_tokens=tokens)
    return model


def _gpt_chat(model_id: str, label: str) -> ModelInfo:
    """OpenRouter's GPT image models: chat-family, images in and out, no resolution tiers."""
    return replace(_chat_model(model_id, label, 16, ()), max_input_bytes=20 * 1024 * 1024)


_OPENROUTER = (
    _chat_model("google/gemini-2.5-flash-image", "Gemini 2.5 Flash Image", 3, RESOLUTIONS),
    _chat_model("google/gemini-3-pro-image-preview", "Gemini 3 Pro Image", 14, RESOLUTIONS),
    _chat_model("google/gemini-3.1-flash-image-preview", "Gemini 3.1 Flash Image", 14, RESOLUTIONS),
    _gpt_chat("openai/gpt-5-image", "GPT-5 Image"),
    _gpt_chat("openai/gpt-5-image-mini", "GPT-5 Image Mini"),
)
_OPENAI = (
    _images_model("gpt-image-1", "GPT Image 1"),
    _images_model("gpt-image-1.5", "GPT Image 1.5"),
    replace(_images_model("gpt-image-1-mini", "GPT Image 1 Mini"), input_fidelity=False),
)
# LiteLLM's ids are the proxy's own model_name entries; these are the usual spellings.
_LITELLM = (
    _images_model("gpt-image-1", "GPT Image 1"),
    _images_model("gpt-image-1.5", "GPT Image 1.5"),
    _chat_model("gemini/gemini-2.5-flash-image", "Gemini 2.5 Flash Image", 3, RESOLUTIONS),
    _chat_model("gemini/gemini-3-pro-image-preview", "Gemini 3 Pro Image", 14, RESOLUTIONS),
)
_BY_KIND = {
    "requesty": BUILTIN_MODELS,
    "openrouter": _OPENROUTER,
    "openai": _OPENAI,
    "litellm": _LITELLM,
}


def builtin_for(kind: str) -> tuple[ModelInfo, ...]:
    """The models Easel knows on this kind of router, with their prices."""
    return tuple(priced(model) for model in _BY_KIND[kind])
