"""What the router is asked for each kind of job, and what the user should be told with the
answer: a trimmed conversation, a chat model's ``n`` images that came back as fewer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot import canvas, compare, describe, iterate, media, memory
from bot.catalog import Catalog, ModelInfo
from bot.domain import (
    ApiFamily,
    GeneratedImage,
    ImageSpec,
    InputImage,
    Job,
    JobKind,
    RouterResult,
    Usage,
)
from bot.errors import EaselError, NotFound
from bot.router import RouterClient
from bot.router.profiles import Attribution
from bot.sessions import Conversations
from bot.storage import Store


@dataclass(frozen=True)
class Called:
    """The router's answer and the warnings that go with it."""

    result: RouterResult
    warnings: tuple[str, ...] = ()


class Calls:
    """Turns a stored job into the router call its kind and model need."""

    def __init__(
        self, router: RouterClient, store: Store, catalog: Catalog, sessions: Conversations
    ) -> None:
        self.router, self.store, self.catalog, self.sessions = router, store, catalog, sessions

    def weight_of(self, job: Job) -> int:
        """How many router calls the job makes at once: a chat model makes one image a call."""
        if job.spec.models:
            return len(job.spec.models)
        chat = self.catalog.get(job.spec.model).family is ApiFamily.CHAT
        return job.spec.n if chat and job.kind is not JobKind.REFINE else 1

    def memory_of(self, job: Job) -> int:
        """Bytes the job's images need at their peak (``bot.memory``): every image it asks
        for, by its pixels; a comparison's originals and their grid; an upscale's resample."""
        if job.kind is JobKind.DESCRIBE:
            return 0  # answers with words
        spec = job.spec
        if spec.models:
            each = [self._pixels(m, replace(spec, resolution=None)) for m in spec.models]
            pixels = 2 * sum(each)  # the originals, and the grid of them
        else:
            count = 1 if job.kind is JobKind.REFINE else spec.n
            pixels = count * self._pixels(spec.model, spec)
        factor = float(job.origin.get("resample") or 1)
        return memory.image_bytes(int(pixels * factor * factor))

    def _pixels(self, model_id: str, spec: ImageSpec) -> int:
        return memory.output_pixels(self.catalog.get(model_id).family, spec)

    async def call(self, job: Job) -> Called:
        model = self.catalog.get(job.spec.model)
        called = await self._call(job, model)
        return priced(called, model, job.spec, self.router.profile.cost_from_prices)

    async def _call(self, job: Job, model: ModelInfo) -> Called:
        spec, who = job.spec, attribution(job)
        inputs = [await self.store.input_image(h) for h in job.input_images]
        if job.kind is JobKind.REFINE:
            return await self._refine(job, model, inputs)
        if job.kind is JobKind.DESCRIBE:
            return Called(await describe.run(self.router, model.id, inputs, who))
        if job.spec.models:
            return Called(*await compare.run(self.catalog, job, self._one(job)))
        if "pick" in job.origin:  # one original of a comparison: already made and paid for
            return Called(await self._picked(job.origin["pick"]))
        if model.family is ApiFamily.IMAGES:
            if job.kind is JobKind.IMAGINE:
                return _counted(await self.router.generate(job.prompt, spec, who=who), spec.n)
            mask = await self.store.input_image(job.mask_image) if job.mask_image else None
            edited = await self.router.edit(job.prompt, inputs, spec, mask=mask, who=who)
            if job.origin.get("resample"):  # an upscale: the model's largest, then a resample
                return await _resampled(edited, float(job.origin["resample"]))
            return _counted(edited, spec.n)
        # base64 of large inputs: off the event loop
        message = await asyncio.to_thread(RouterClient.user_message, job.prompt, inputs)
        return await chat_n(self.router, model, [message], spec, who=who)

    def _one(self, job: Job) -> compare.OneCall:
        who = attribution(job)

        async def one(model: ModelInfo, spec: ImageSpec) -> RouterResult:
            if model.family is ApiFamily.IMAGES:
                return await self.router.generate(job.prompt, spec, who=who)
            message = RouterClient.user_message(job.prompt, [])
            called = await chat_n(self.router, model, [message], spec, who=who)
            return called.result

        return one

    async def _picked(self, pick: dict[str, Any]) -> RouterResult:
        source = await self.store.get_job(int(pick["from"]))
        index = int(pick["index"]) + 1  # the grid comes first
        sha = source.result_images[index] if source and index < len(source.result_images) else None
        if sha is None:
            raise NotFound("That comparison is gone.")
        info = await self.store.image_info(sha)
        data = await self.store.get_image(sha)
        width, height = (info.width, info.height) if info else (None, None)
        return RouterResult(
            images=(GeneratedImage(data, info.mime if info else media.PNG, width, height),)
        )

    async def _refine(self, job: Job, model: ModelInfo, inputs: list[InputImage]) -> Called:
        turn = await self.sessions.context(job, model, inputs)
        who = attribution(job)
        if turn.messages is None:
            edited = await self.router.edit(turn.prompt, turn.images, job.spec, who=who)
            return Called(edited, turn.warnings)
        answer = await self.router.chat(
            model.id,
            turn.messages,
            aspect_ratio=job.spec.aspect_ratio,
            image_size=job.spec.resolution,
            outputs=model.outputs,
            who=who,
        )
        return Called(answer, turn.warnings)


def attribution(job: Job) -> Attribution:
    """The ids the router's dashboard splits spend by: the server and the job."""
    server = job.origin.get("guild_id")
    return Attribution(
        user_id=job.user_id, server_id=str(server) if server else None, job_id=job.id
    )


def priced(called: Called, model: ModelInfo, spec: ImageSpec, from_prices: bool) -> Called:
    """An answer without a reported cost, priced from its token usage where the router's
    profile says so (OpenAI reports tokens, never dollars)."""
    usage = called.result.usage
    prices = model.token_prices
    if not from_prices or prices is None or usage is None or usage.cost is not None:
        return called
    if usage.output_tokens is None:
        return called
    cost = prices.cost(usage.input_tokens or 0, usage.input_image_tokens or 0, usage.output_tokens)
    result = replace(called.result, usage=replace(usage, cost=round(cost, 6)))
    return replace(called, result=result)


async def chat_n(
    router: RouterClient,
    model: ModelInfo,
    messages: list[dict[str, Any]],
    spec: ImageSpec,
    *,
    who: Attribution | None = None,
) -> Called:
    """Chat image models answer one image a call, so ``n`` images are ``n`` calls at once; the
    answers that came back (saying which failed and why), or the first error if none did."""
    calls = [
        router.chat(
            model.id,
            messages,
            aspect_ratio=spec.aspect_ratio,
            image_size=spec.resolution,
            outputs=model.outputs,
            who=who,
        )
        for _ in range(spec.n)
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    good = [r for r in results if isinstance(r, RouterResult)]
    errors = [r for r in results if not isinstance(r, RouterResult)]
    if not good:
        first = errors[0]
        assert isinstance(first, BaseException)
        raise first
    merged = merge(good)
    if not errors:
        return _counted(merged, spec.n)
    reason = errors[0].user_message if isinstance(errors[0], EaselError) else "no answer"
    failed = f"{len(errors)} call{'s' if len(errors) != 1 else ''} failed"
    note = f"⚠️ {len(merged.images)} of {spec.n} images; {failed} ({reason}). Retry missing makes the rest."
    return Called(merged, (note,))


async def _resampled(result: RouterResult, factor: float) -> Called:
    bigger = []
    for image in result.images:
        data, width, height = await canvas.resampled(image.data, factor)
        bigger.append(GeneratedImage(data, media.PNG, width, height))
    return Called(replace(result, images=tuple(bigger)), (iterate.resample_note(factor),))


def _counted(result: RouterResult, asked: int) -> Called:
    """An answer with fewer images than asked for says so, with a way to make the rest."""
    if 0 < len(result.images) < asked:
        note = f"⚠️ {len(result.images)} of {asked} images came back. Retry missing makes the rest."
        return Called(result, (note,))
    return Called(result)


def merge(results: Sequence[RouterResult]) -> RouterResult:
    """Combine several one-image answers into one result; costs add up."""
    all_images: list[GeneratedImage] = [img for r in results for img in r.images]
    costs = [r.usage.cost for r in results if r.usage and r.usage.cost is not None]
    texts = [r.text for r in results if r.text]
    first = results[0]
    return RouterResult(
        images=tuple(all_images),
        text=texts[0] if texts else None,
        reasoning_details=first.reasoning_details,
        model=first.model,
        usage=Usage(cost=sum(costs)) if costs else first.usage,
        finish_reason=first.finish_reason,
    )
