"""How each kind of router differs, for the fake: ``FakeRouter(kind="openrouter")``.

- requesty: the seeds (images API answering url unless asked for b64_json, chat images,
  ``usage.cost``, the ``requesty`` metadata object).
- openai: the Images API only; ``response_format`` on a GPT Image model is a 400 "Unknown
  parameter"; always base64; ``usage`` has tokens but no cost.
- openrouter: no ``/images/*``; chat answers carry images only when ``modalities`` asks for
  them (``["image"]`` for image-only models, which refuse ``"text"``); errors as
  ``{"error": {"code": int, "message", "metadata"}}``; 403 for flagged input; ``usage.cost``;
  ``/models`` with ``architecture`` and ``pricing``.
- litellm: images API (passed to OpenAI, so as strict about ``response_format``) and chat;
  cost only in the ``x-litellm-response-cost`` header.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .protocol import CHAT_MODELS, IMAGES_MODELS


@dataclass(frozen=True)
class Mode:
    kind: str
    images_models: frozenset[str]
    chat_models: frozenset[str]
    image_only: frozenset[str] = frozenset()  # answer only with modalities == ["image"]
    images_api: bool = True
    always_b64: bool = False  # answers base64 whatever is asked, and rejects response_format
    needs_modalities: bool = False  # chat answers text only unless "image" is in modalities
    cost_in: str = "usage"  # "usage", "header" (x-litellm-response-cost) or "none"
    error_shape: str = "requesty"  # "openrouter": {"error": {"code", "message", "metadata"}}
    extra_fields: frozenset[str] = frozenset()  # router-specific body fields it accepts
    listing: str = "plain"  # "openrouter": architecture and pricing in /models
    text_models: tuple[str, ...] = ()  # listed by /models, but they draw nothing


OPENROUTER_CHAT = frozenset(
    {
        "google/gemini-2.5-flash-image",
        "google/gemini-3-pro-image-preview",
        "openai/gpt-5-image",
        "openai/gpt-5-image-mini",
    }
)
OPENROUTER_IMAGE_ONLY = frozenset({"black-forest-labs/flux.2-pro"})

MODES = {
    "requesty": Mode(
        "requesty",
        IMAGES_MODELS,
        CHAT_MODELS,
        extra_fields=frozenset({"requesty"}),
        listing="requesty",
    ),
    "openai": Mode(
        "openai",
        frozenset({"gpt-image-1", "gpt-image-1.5", "gpt-image-1-mini"}),
        frozenset(),
        always_b64=True,
        cost_in="none",
        error_shape="openai",
        text_models=("gpt-4o-mini", "dall-e-3"),
    ),
    "openrouter": Mode(
        "openrouter",
        frozenset(),
        OPENROUTER_CHAT | OPENROUTER_IMAGE_ONLY,
        image_only=OPENROUTER_IMAGE_ONLY,
        images_api=False,
        needs_modalities=True,
        error_shape="openrouter",
        extra_fields=frozenset({"provider", "transforms", "usage"}),
        listing="openrouter",
        text_models=("openai/gpt-4o-mini", "google/gemini-2.5-flash"),
    ),
    "litellm": Mode(
        "litellm",
        frozenset({"gpt-image-1", "gpt-image-1.5"}),
        frozenset({"gemini/gemini-2.5-flash-image", "gemini/gemini-3-pro-image-preview"}),
        always_b64=True,  # it passes the call to OpenAI, which refuses response_format
        cost_in="header",
        error_shape="openai",
        extra_fields=frozenset({"metadata"}),
        text_models=("gpt-4o-mini",),
    ),
}


def openrouter_error(status: int, body: Any) -> dict[str, Any]:
    """Any error body in OpenRouter's shape: a numeric code, the message, metadata."""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else str(body)
    metadata = error.get("metadata") if isinstance(error, dict) else None
    return {"error": {"code": status, "message": message, "metadata": metadata or {}}}


def flagged(model: str) -> dict[str, Any]:
    """OpenRouter's 403 for input its moderation flagged."""
    return {
        "error": {
            "code": 403,
            "message": f"{model} requires moderation on OpenRouter. Your input was flagged.",
            "metadata": {
                "reasons": ["violence"],
                "flagged_input": "…",
                "provider_name": "fake",
                "model_slug": model,
            },
        }
    }


def _listing_entry(mode: Mode, model: str, outputs: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": model, "object": "model", "created": 1_719_000_000}
    if mode.listing != "openrouter":
        return entry | {"owned_by": model.split("/")[0]}
    pricing = {"prompt": "0.0000003", "completion": "0.0000025", "request": "0", "image": "0"}
    if "image" in outputs:
        pricing["image_output"] = "0.00003"
    return entry | {
        "name": model,
        "architecture": {
            "modality": "text+image->" + "+".join(outputs),
            "input_modalities": ["text", "image"],
            "output_modalities": outputs,
        },
        "pricing": pricing,
    }


def models_body(mode: Mode) -> dict[str, Any]:
    """GET /models: the image models this mode serves and some text models, in its shape."""
    entries = []
    for model in sorted(mode.images_models | mode.chat_models):
        outputs = ["image"] if model in mode.image_only or model in mode.images_models else None
        entries.append(_listing_entry(mode, model, outputs or ["image", "text"]))
    entries += [_listing_entry(mode, model, ["text"]) for model in mode.text_models]
    return {"object": "list", "data": entries}
