"""The model catalog: which API family each model speaks, what it accepts and what it costs.

Built in per router kind (``bot.known_models``); a JSON file named by ``CATALOG_FILE`` adds
models or overrides these entries field by field, so a new router model needs no code change.
The router's live ``GET /models`` list (``bot.live_catalog``) then decides which are offered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bot.domain import ApiFamily, ImageSpec
from bot.errors import ConfigError, InvalidOption, TooManyImages

IMAGES_SIZES = ("auto", "1024x1024", "1536x1024", "1024x1536")
QUALITIES = ("auto", "high", "medium", "low")
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
RESOLUTIONS = ("1K", "2K", "4K")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
BACKGROUNDS = ("auto", "transparent", "opaque")

# Output pixel sizes of the Gemini image models, from the router's table: ratio -> tier -> (w, h).
GEMINI_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "1:1": {"1K": (1024, 1024), "2K": (2048, 2048), "4K": (4096, 4096)},
    "2:3": {"1K": (848, 1264), "2K": (1696, 2528), "4K": (3392, 5056)},
    "3:2": {"1K": (1264, 848), "2K": (2528, 1696), "4K": (5056, 3392)},
    "3:4": {"1K": (896, 1200), "2K": (1792, 2400), "4K": (3584, 4800)},
    "4:3": {"1K": (1200, 896), "2K": (2400, 1792), "4K": (4800, 3584)},
    "4:5": {"1K": (928, 1152), "2K": (1856, 2304), "4K": (3712, 4608)},
    "5:4": {"1K": (1152, 928), "2K": (2304, 1856), "4K": (4608, 3712)},
    "9:16": {"1K": (768, 1376), "2K": (1536, 2752), "4K": (3072, 5504)},
    "16:9": {"1K": (1376, 768), "2K": (2752, 1536), "4K": (5504, 3072)},
    "21:9": {"1K": (1584, 672), "2K": (3168, 1344), "4K": (6336, 2688)},
}


@dataclass(frozen=True)
class TokenPrices:
    """USD per million tokens, to price an answer whose router reports no cost."""

    text_input: float
    image_input: float
    output: float

    def cost(self, input_tokens: int, input_image_tokens: int, output_tokens: int) -> float:
        text = max(0, input_tokens - input_image_tokens)
        total = text * self.text_input + input_image_tokens * self.image_input
        return (total + output_tokens * self.output) / 1_000_000


@dataclass(frozen=True)
class ModelInfo:
    """What one model accepts, and what one image costs where that is known."""

    id: str
    family: ApiFamily
    label: str
    max_inputs: int = 1
    supports_mask: bool = False
    max_n: int = 1
    sizes: tuple[str, ...] = ()
    aspect_ratios: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()
    qualities: tuple[str, ...] = ()
    input_fidelity: bool = False
    max_input_bytes: int = 50 * 1024 * 1024
    outputs: tuple[str, ...] = ("image",)  # what it answers with (OpenRouter's modalities)
    # USD per image: "quality size" keys ("medium 1024x1024") for images models, the
    # resolution ("1K") for chat models; from the built-in table or the router's live pricing.
    prices: Mapping[str, float] = field(default_factory=dict)
    token_prices: TokenPrices | None = None
    image_tokens: Mapping[str, int] = field(
        default_factory=dict
    )  # output tokens per image, by tier

    def price_per_image(
        self, *, quality: str | None = None, size: str | None = None, resolution: str | None = None
    ) -> float | None:
        """What one image costs with these options, where known ("auto" as medium, square)."""
        if self.family is ApiFamily.CHAT:
            return self.prices.get(resolution or "1K")
        quality = quality if quality not in (None, "auto") else "medium"
        size = size if size not in (None, "auto") else "1024x1024"
        return self.prices.get(f"{quality} {size}")

    def check_inputs(self, count: int) -> None:
        if count > self.max_inputs:
            raise TooManyImages(
                f"{self.label} takes at most {self.max_inputs} input image"
                f"{'s' if self.max_inputs != 1 else ''}; you gave {count}."
            )

    def check_spec(self, spec: ImageSpec) -> None:
        """Refuse options the model does not offer, before any money is spent."""
        if not 1 <= spec.n <= 10:
            raise InvalidOption("Choose between 1 and 10 images.")
        if self.family is ApiFamily.IMAGES:
            self.check_option("size", spec.size, self.sizes)
            self.check_option("quality", spec.quality, self.qualities)
            self.check_option("format", spec.output_format, OUTPUT_FORMATS)
            self.check_option("background", spec.background, BACKGROUNDS)
            if spec.background == "transparent" and spec.output_format == "jpeg":
                raise InvalidOption("A transparent background needs PNG or WebP, not JPEG.")
            if spec.n > self.max_n:
                raise InvalidOption(f"{self.label} makes at most {self.max_n} images at once.")
        else:
            self.check_option("aspect ratio", spec.aspect_ratio, self.aspect_ratios)
            self.check_option("resolution", spec.resolution, self.resolutions)

    def check_option(self, name: str, value: str | None, allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        if value is not None and value not in allowed:
            offered = ", ".join(allowed) or "none"
            raise InvalidOption(
                f"{self.label} doesn't offer {name} {value!r}. Choose from: {offered}."
            )


def _images_model(model_id: str, label: str) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        family=ApiFamily.IMAGES,
        label=label,
        max_inputs=16,
        supports_mask=True,
        max_n=10,
        sizes=IMAGES_SIZES,
        qualities=QUALITIES,
        input_fidelity=True,
    )


def _chat_model(
    model_id: str, label: str, max_inputs: int, resolutions: tuple[str, ...]
) -> ModelInfo:
    return ModelInfo(
        id=model_id,
        family=ApiFamily.CHAT,
        label=label,
        max_inputs=max_inputs,
        max_n=1,
        aspect_ratios=ASPECT_RATIOS,
        resolutions=resolutions,
        max_input_bytes=7 * 1024 * 1024,
        outputs=("image", "text"),
    )


BUILTIN_MODELS: tuple[ModelInfo, ...] = (
    _images_model("azure/openai/gpt-image-1", "GPT Image 1 (Azure)"),
    _images_model("azure/openai/gpt-image-1.5", "GPT Image 1.5 (Azure)"),
    _images_model("gpt-image-1", "GPT Image 1 (OpenAI)"),
    _images_model("gpt-image-1.5", "GPT Image 1.5 (OpenAI)"),
    _chat_model(
        "vertex/google/gemini-2.5-flash-image-preview", "Gemini 2.5 Flash Image", 3, RESOLUTIONS
    ),
    _chat_model("vertex/gemini-3.1-flash-image-preview", "Gemini 3.1 Flash Image", 14, RESOLUTIONS),
    _chat_model("vertex/google/gemini-3-pro-image-preview", "Gemini 3 Pro Image", 14, RESOLUTIONS),
)


class Catalog:
    """Model id -> ModelInfo: the known models, the ones the router offers, and a guess for
    ids nobody listed."""

    def __init__(self, models: Iterable[ModelInfo], *, images_api: bool = True) -> None:
        self._known = {m.id: m for m in models}
        self._offered: dict[str, ModelInfo] | None = None  # None: no live list (built-in)
        self.images_api = images_api  # False: the router has no images API, so guess chat

    def __iter__(self) -> Any:
        return iter(self._listed().values())

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._known or model_id in (self._offered or {})

    @property
    def live(self) -> bool:
        """True once the router's own list decides what is offered."""
        return self._offered is not None

    def known(self) -> Mapping[str, ModelInfo]:
        """The built-in and CATALOG_FILE entries, offered or not."""
        return self._known

    def offers(self, model_id: str) -> bool:
        """Whether the router lists the model (every known one while there is no live list)."""
        return model_id in self._listed()

    def set_offered(self, models: Iterable[ModelInfo] | None) -> None:
        """What the router offers now; None falls back to the known models."""
        self._offered = None if models is None else {m.id: m for m in models}

    def _listed(self) -> dict[str, ModelInfo]:
        return self._offered if self._offered is not None else self._known

    def get(self, model_id: str) -> ModelInfo:
        """The entry for a model; unknown ids are guessed from the name so new models still work."""
        for models in (self._offered or {}, self._known):
            if model_id in models:
                return models[model_id]
        chat = not self.images_api or "gemini" in model_id.lower()
        if chat:
            return _chat_model(model_id, model_id, 3, RESOLUTIONS)
        return _images_model(model_id, model_id)

    def search(self, text: str, limit: int = 25) -> list[ModelInfo]:
        text = text.lower()
        listed = self._listed().values()
        hits = [m for m in listed if text in m.id.lower() or text in m.label.lower()]
        return hits[:limit]

    @classmethod
    def load(
        cls,
        path: Path | None = None,
        builtin: Iterable[ModelInfo] = BUILTIN_MODELS,
        *,
        images_api: bool = True,
    ) -> Catalog:
        """The built-in models, overridden or extended by a JSON file (a list of entries)."""
        models = {m.id: m for m in builtin}
        if path is None:
            return cls(models.values(), images_api=images_api)
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"CATALOG_FILE {path} can't be read as JSON: {exc}") from exc
        if not isinstance(entries, list):
            raise ConfigError("CATALOG_FILE must hold a JSON list of model entries")
        for entry in entries:
            models[entry.get("id", "")] = _entry_to_model(entry, models)
        return cls(models.values(), images_api=images_api)


def _entry_to_model(entry: Mapping[str, Any], known: Mapping[str, ModelInfo]) -> ModelInfo:
    model_id = entry.get("id")
    if not isinstance(model_id, str) or not model_id:
        raise ConfigError("CATALOG_FILE: every entry needs an 'id'")
    fields = dict(entry)
    try:
        if "family" in fields:
            fields["family"] = ApiFamily(fields["family"])
        for key in ("sizes", "aspect_ratios", "resolutions", "qualities", "outputs"):
            if key in fields:
                fields[key] = tuple(fields[key])
        if isinstance(fields.get("token_prices"), Mapping):
            fields["token_prices"] = TokenPrices(**fields["token_prices"])
        if model_id in known:
            return replace(known[model_id], **fields)
        fields.setdefault("label", model_id)
        if "family" not in fields:
            raise ConfigError(
                f"CATALOG_FILE: new model {model_id!r} needs a 'family' (images or chat)"
            )
        base = (
            _chat_model(model_id, fields["label"], 3, RESOLUTIONS)
            if fields["family"] is ApiFamily.CHAT
            else _images_model(model_id, fields["label"])
        )
        return replace(base, **fields)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"CATALOG_FILE: entry {model_id!r} is invalid: {exc}") from exc
