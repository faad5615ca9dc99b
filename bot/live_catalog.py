"""The live catalog: the router's ``GET /models`` joined with what Easel knows of each model.

Read at start-up and on ``/easel-models refresh``. A listed model is offered when Easel knows it,
or when the list says it outputs images (OpenRouter's ``architecture.output_modalities``),
which then decides its family instead of a guess from the name. When ``/models`` fails or lists
no image model, the built-in catalog (with ``CATALOG_FILE``) is offered instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.catalog import Catalog, ModelInfo, _chat_model, _images_model
from bot.config import Settings
from bot.errors import EaselError
from bot.router import RouterClient
from bot.router.decoding import finite_float

log = logging.getLogger(__name__)

# Only for lists that say nothing of modalities (LiteLLM, Requesty): ids that name an image model.
_IMAGE_WORDS = ("image", "dall-e", "imagen", "flux")
_IMAGES_API_WORDS = ("gpt-image", "dall-e", "imagen", "flux")


@dataclass(frozen=True)
class Refresh:
    """What one refresh found: live or the fallback, and the defaults the router doesn't offer."""

    live: bool
    offered: int
    error: str | None = None
    missing: tuple[tuple[str, str], ...] = ()  # (role, model id)

    def warnings(self) -> list[str]:
        return [
            f"The {role} model {model} is not offered by the router; "
            "set another one or check the router's model list."
            for role, model in self.missing
        ]


def default_models(settings: Settings) -> dict[str, str]:
    """The configured default model of each role."""
    return {
        "imagine": settings.imagine_model,
        "edit": settings.edit_model,
        "refine": settings.refine_model,
    }


async def refresh(
    catalog: Catalog,
    router: RouterClient,
    defaults: Mapping[str, str],
    *,
    within: float | None = None,
) -> Refresh:
    """Read the router's list into ``catalog``; warn in the log about ``defaults`` not offered.
    ``within`` seconds bound the whole read, retries included (start-up must not wait minutes)."""
    try:
        async with asyncio.timeout(within):
            entries = await router.models()
    except (EaselError, TimeoutError) as exc:
        catalog.set_offered(None)
        why = exc.user_message if isinstance(exc, EaselError) else "it took too long"
        log.warning("the router's model list failed (%s); using the built-in catalog", why)
        return Refresh(live=False, offered=len(list(catalog)), error=why)
    models = join(entries, catalog.known(), images_api=catalog.images_api)
    if not models:
        catalog.set_offered(None)
        log.warning("the router lists no image model Easel knows; using the built-in catalog")
        return Refresh(live=False, offered=len(list(catalog)), error="no image models listed")
    catalog.set_offered(models)
    missing = tuple((role, m) for role, m in defaults.items() if not catalog.offers(m))
    result = Refresh(live=True, offered=len(models), missing=missing)
    for warning in result.warnings():
        log.warning("%s", warning)
    log.info("the router offers %d image model(s)", len(models))
    return result


def join(
    entries: Iterable[Mapping[str, Any]], known: Mapping[str, ModelInfo], *, images_api: bool
) -> list[ModelInfo]:
    """The image models in a ``/models`` list, each with what Easel knows of it."""
    models = []
    for entry in entries:
        model_id = entry["id"]
        outputs, inputs = _modalities(entry)
        info = known.get(model_id)
        if outputs is not None and "image" not in outputs:
            continue  # a text model, whatever its name says
        if info is None:
            if outputs is None and not any(w in model_id.lower() for w in _IMAGE_WORDS):
                continue
            info = _new_model(model_id, entry, outputs, images_api)
        if outputs is not None:
            info = replace(info, outputs=outputs)
        if inputs is not None and "image" not in inputs:
            info = replace(info, max_inputs=0)
        models.append(_live_price(info, entry))
    return models


def _modalities(entry: Mapping[str, Any]) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    arch = entry.get("architecture")
    if not isinstance(arch, dict):
        return None, None
    return _strings(arch.get("output_modalities")), _strings(arch.get("input_modalities"))


def _strings(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    return tuple(v for v in value if isinstance(v, str))


def _new_model(
    model_id: str, entry: Mapping[str, Any], outputs: tuple[str, ...] | None, images_api: bool
) -> ModelInfo:
    """A listed model Easel has no entry for: its family from what it outputs."""
    name = entry.get("name")
    label = name if isinstance(name, str) and name else model_id
    if not images_api or (outputs is not None and "text" in outputs):
        return _chat_model(model_id, label, 3, ())
    if outputs is not None or any(w in model_id.lower() for w in _IMAGES_API_WORDS):
        return _images_model(model_id, label)  # image-only output on a router with images API
    return _chat_model(model_id, label, 3, ())


def _live_price(info: ModelInfo, entry: Mapping[str, Any]) -> ModelInfo:
    """OpenRouter prices image output per token; times the tokens an image takes, per image."""
    pricing = entry.get("pricing")
    per_token = finite_float(pricing.get("image_output")) if isinstance(pricing, dict) else None
    if not per_token or not info.image_tokens:
        return info
    prices = {tier: round(tokens * per_token, 4) for tier, tokens in info.image_tokens.items()}
    return replace(info, prices=prices)


def server_models(catalog: Catalog, allowed: Sequence[str] = ()) -> list[ModelInfo]:
    """The models this server may use: what the router offers, within the server's allow-list
    (``Rules.models``; empty: every model)."""
    return [m for m in catalog if not allowed or m.id in allowed]


def describe(model: ModelInfo) -> str:
    """One line for a model: id, label, family, what it accepts, and its price per image."""
    accepts = []
    if model.max_inputs:
        accepts.append(f"up to {model.max_inputs} image{'s' if model.max_inputs != 1 else ''}")
    else:
        accepts.append("text only")
    if model.supports_mask:
        accepts.append("mask")
    if model.sizes:
        accepts.append("sizes " + "/".join(s for s in model.sizes if s != "auto"))
    if model.aspect_ratios:
        accepts.append(f"{len(model.aspect_ratios)} aspect ratios")
    if model.resolutions:
        accepts.append("/".join(model.resolutions))
    price = model.price_per_image()
    cost = f"${price:.3f}/image" if price is not None else "price not known"
    return f"{model.id} ({model.label}): {model.family.value} API; {', '.join(accepts)}; {cost}"
