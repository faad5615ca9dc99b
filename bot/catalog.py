"""The model catalog: which API family each model speaks and what it accepts.

Built from the router seeds; a JSON file named by ``CATALOG_FILE`` adds models or overrides
these entries field by field, so a new router model needs no code change.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
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
class ModelInfo:
    """What one model accepts."""

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
    """Model id -> ModelInfo, with a sensible guess for ids nobody listed."""

    def __init__(self, models: Iterable[ModelInfo]) -> None:
        self._models = {m.id: m for m in models}

    def __iter__(self) -> Any:
        return iter(self._models.values())

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._models

    def get(self, model_id: str) -> ModelInfo:
        """The entry for a model; unknown ids are guessed from the name so new models still work."""
        if model_id in self._models:
            return self._models[model_id]
        family = ApiFamily.CHAT if "gemini" in model_id.lower() else ApiFamily.IMAGES
        if family is ApiFamily.CHAT:
            return _chat_model(model_id, model_id, 3, RESOLUTIONS)
        return _images_model(model_id, model_id)

    def search(self, text: str, limit: int = 25) -> list[ModelInfo]:
        text = text.lower()
        hits = [m for m in self._models.values() if text in m.id.lower() or text in m.label.lower()]
        return hits[:limit]

    @classmethod
    def load(cls, path: Path | None = None) -> Catalog:
        """The built-in models, overridden or extended by a JSON file (a list of entries)."""
        models = {m.id: m for m in BUILTIN_MODELS}
        if path is None:
            return cls(models.values())
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"CATALOG_FILE {path} can't be read as JSON: {exc}") from exc
        if not isinstance(entries, list):
            raise ConfigError("CATALOG_FILE must hold a JSON list of model entries")
        for entry in entries:
            models[entry.get("id", "")] = _entry_to_model(entry, models)
        return cls(models.values())


def _entry_to_model(entry: Mapping[str, Any], known: Mapping[str, ModelInfo]) -> ModelInfo:
    model_id = entry.get("id")
    if not isinstance(model_id, str) or not model_id:
        raise ConfigError("CATALOG_FILE: every entry needs an 'id'")
    fields = dict(entry)
    try:
        if "family" in fields:
            fields["family"] = ApiFamily(fields["family"])
        for key in ("sizes", "aspect_ratios", "resolutions", "qualities"):
            if key in fields:
                fields[key] = tuple(fields[key])
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
