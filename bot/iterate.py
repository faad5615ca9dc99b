"""Going on from a result, as Midjourney's buttons do: vary, zoom out, pan, make square,
upscale. Each action becomes an edit of the result's first image: images models get the
padded canvas and its border mask (outpainting on ``/images/edits``), chat models the padded
image and an instruction. No Discord types; the pixel work runs off the event loop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from bot import canvas
from bot.catalog import ModelInfo
from bot.domain import ApiFamily, ImageSpec, Job
from bot.errors import InvalidOption
from bot.inputs import RawImage
from bot.options import size_for_aspect

# action -> what the user sees (the select's options, the job's lineage).
ACTIONS = {
    "subtle": "Vary (Subtle)",
    "strong": "Vary (Strong)",
    "zoom15": "Zoom out 1.5×",
    "zoom2": "Zoom out 2×",
    "panleft": "Pan ⬅",
    "panright": "Pan ➡",
    "panup": "Pan ⬆",
    "pandown": "Pan ⬇",
    "square": "Make square",
    "upscale": "Upscale",
}
KEPT = ("action", "resample")  # origin keys a Retry of an iteration keeps
UPSCALE_FACTOR = 2.0  # images models: their largest size, then this resample
_CHAT_VARY = {
    "subtle": "Make a subtle variation of this image: keep its composition, subjects and style, "
    "change only small details.",
    "strong": "Make a strong variation of this image: keep its subject and idea, but boldly "
    "change the composition, pose, lighting and details.",
}
_CHAT_FILL = (
    "This picture sits on a larger canvas with a white border. Paint the border so the scene "
    "continues seamlessly outward, keeping the picture in the middle exactly as it is."
)
_CHAT_UPSCALE = "Redraw this image at the highest resolution, sharper, with every detail kept."


@dataclass(frozen=True)
class Iteration:
    """An action on a result, ready for ``ImageService.submit_edit``."""

    action: str
    prompt: str
    spec: ImageSpec
    inputs: tuple[RawImage, ...]
    mask: RawImage | None = None
    notes: tuple[str, ...] = ()
    origin: dict[str, object] = field(default_factory=dict)


async def plan(job: Job, action: str, model: ModelInfo, image: bytes) -> Iteration:
    """What to send for ``action`` on ``job``'s first image (``image``), on ``model``."""
    if action not in ACTIONS:
        raise InvalidOption(f"I don't know the action {action!r}.")
    chat = model.family is ApiFamily.CHAT
    notes = (f"{ACTIONS[action]} of image 1 of {len(job.result_images)}.",) * (
        len(job.result_images) > 1
    )
    base = replace(job.spec, n=1, input_fidelity=None)
    origin: dict[str, object] = {"action": action}
    prompt = job.prompt
    if action in ("subtle", "strong"):
        if chat:
            prompt = f"{_CHAT_VARY[action]} The image shows: {job.prompt}"
        elif model.input_fidelity:
            base = replace(base, input_fidelity="high" if action == "subtle" else "low")
        return Iteration(
            action, prompt, base, (RawImage(image, "result.png"),), None, notes, origin
        )
    if action == "upscale":
        fidelity = "high" if model.input_fidelity else None
        return await _upscale(
            job, replace(base, input_fidelity=fidelity), chat, image, notes, origin
        )
    width, height = await asyncio.to_thread(canvas.size_of, image)
    try:
        layout = canvas.layout(action, width, height)
    except ValueError as exc:
        raise InvalidOption(f"I can't do {ACTIONS[action]} on that image.") from exc
    fill = canvas.CHAT_FILL if chat else None
    padded = await canvas.padded(image, layout, fill=fill)
    inputs = (RawImage(padded, "canvas.png"),)
    if chat:
        spec = replace(base, aspect_ratio=layout.aspect)
        return Iteration(action, f"{_CHAT_FILL} {job.prompt}", spec, inputs, None, notes, origin)
    mask = RawImage(await asyncio.to_thread(canvas.border_mask, layout), "mask.png")
    spec = replace(base, size=size_for_aspect(layout.aspect))
    return Iteration(action, prompt, spec, inputs, mask, notes, origin)


async def _upscale(
    job: Job,
    base: ImageSpec,
    chat: bool,
    image: bytes,
    notes: tuple[str, ...],
    origin: dict[str, object],
) -> Iteration:
    inputs = (RawImage(image, "result.png"),)
    width, height = await asyncio.to_thread(canvas.size_of, image)
    aspect = canvas.nearest_aspect(width, height)
    if chat:
        spec = replace(
            base, resolution="4K", aspect_ratio=base.aspect_ratio or aspect, input_fidelity=None
        )
        return Iteration(
            "upscale", f"{_CHAT_UPSCALE} {job.prompt}", spec, inputs, None, notes, origin
        )
    spec = replace(base, size=size_for_aspect(aspect), quality="high")
    origin = {**origin, "resample": UPSCALE_FACTOR}
    return Iteration("upscale", job.prompt, spec, inputs, None, notes, origin)


def resample_note(factor: float) -> str:
    return (
        f"Upscaled: the model's largest size, then resampled {factor:g}× (Lanczos); "
        "the extra pixels are smoothed, not new detail."
    )
