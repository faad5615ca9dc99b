"""/compare: one prompt on 2–4 models at once, posted as one labelled grid (model, cost,
seconds) plus the originals. The models travel in the job's spec (``ImageSpec.models``), so
Retry compares again; picking one (``pick``) makes a job of its own that spends nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from bot import grid, media
from bot.catalog import Catalog, ModelInfo
from bot.domain import GeneratedImage, ImageSpec, Job, RouterResult, Usage
from bot.errors import EaselError, InvalidOption
from bot.options import named_model, spec_for

MIN_MODELS, MAX_MODELS = 2, 4
# One model's call: the spec it takes -> its answer.
OneCall = Callable[[ModelInfo, ImageSpec], Awaitable[RouterResult]]


def compare_spec(catalog: Catalog, names: str, aspect: str | None) -> tuple[ImageSpec, list[str]]:
    """The spec of a comparison of the models ``names`` lists (comma-separated, each an id or a
    piece of one), with what each model will ignore."""
    models: list[ModelInfo] = []
    for name in (n.strip() for n in names.split(",")):
        model = named_model(catalog, name) if name else None
        if model is not None and model not in models:
            models.append(model)
    if not MIN_MODELS <= len(models) <= MAX_MODELS:
        raise InvalidOption(
            f"Name {MIN_MODELS} to {MAX_MODELS} different models, separated by commas; "
            f"you named {len(models)}."
        )
    notes = [note for model in models for note in spec_for(model, aspect=aspect)[1]]
    spec = ImageSpec(model=models[0].id, models=tuple(m.id for m in models), aspect_ratio=aspect)
    return spec, notes


def model_spec(model: ModelInfo, spec: ImageSpec) -> ImageSpec:
    """One model's own spec in a comparison: the shared aspect, one image."""
    return spec_for(model, aspect=spec.aspect_ratio)[0]


async def run(catalog: Catalog, job: Job, one: OneCall) -> tuple[RouterResult, tuple[str, ...]]:
    """Every model at once; the grid first, then each original; a failed model is a warning."""
    models = [catalog.get(m) for m in job.spec.models or ()]

    async def timed(model: ModelInfo) -> tuple[RouterResult, float]:
        started = time.monotonic()
        answer = await one(model, model_spec(model, job.spec))
        return answer, time.monotonic() - started

    answers = await asyncio.gather(*(timed(m) for m in models), return_exceptions=True)
    good = [(m, a) for m, a in zip(models, answers, strict=True) if isinstance(a, tuple)]
    warnings = tuple(
        f"⚠️ {m.label} failed: {a.user_message if isinstance(a, EaselError) else 'no answer'}"
        for m, a in zip(models, answers, strict=True)
        if not isinstance(a, tuple)
    )
    if not good:
        first = answers[0]
        assert isinstance(first, BaseException)
        raise first
    tiles = [grid.Tile(a.images[0].data, _label(m, a, s)) for m, (a, s) in good if a.images]
    picture = await asyncio.to_thread(grid.labelled_grid, tiles)
    originals = [a.images[0] for _, (a, _) in good if a.images]
    costs = [a.usage.cost for _, (a, _) in good if a.usage and a.usage.cost is not None]
    text = "\n".join(f"{i}. {' · '.join(t.lines)}" for i, t in enumerate(tiles, start=1))
    result = RouterResult(
        images=(GeneratedImage(picture, media.PNG), *originals),
        text=text,
        usage=Usage(cost=sum(costs)) if costs else None,
        model=job.spec.model,
    )
    return result, warnings


def _label(model: ModelInfo, answer: RouterResult, seconds: float) -> tuple[str, ...]:
    cost = answer.usage.cost if answer.usage and answer.usage.cost is not None else None
    money = f"${cost:.3f}" if cost is not None else "cost unknown"
    return (model.label, f"{money} · {seconds:.1f} s")


def labels(job: Job, catalog: Catalog | None = None) -> list[str]:
    """The originals' names, in the order the result keeps them (grid first, then these)."""
    lines = (job.result_text or "").splitlines()
    names = [line.split(". ", 1)[-1].split(" · ")[0] for line in lines]
    if len(names) == len(job.result_images) - 1:
        return names
    named = [catalog.get(m).label if catalog else m for m in (job.spec.models or ())]
    return named[: len(job.result_images) - 1]


def picked_spec(job: Job, catalog: Catalog, index: int) -> ImageSpec:
    """The spec of the original at ``index`` (0-based, after the grid) as a job of its own."""
    names = labels(job, catalog)
    if not 0 <= index < len(names):
        raise InvalidOption("That comparison has no such image.")
    models = [catalog.get(m) for m in job.spec.models or ()]
    model = next((m for m in models if m.label == names[index]), models[index % len(models)])
    return replace(model_spec(model, job.spec), models=None)
