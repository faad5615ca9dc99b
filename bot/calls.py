"""What the router is asked for each kind of job, and what the user should be told with the
answer: a trimmed conversation, a chat model's ``n`` images that came back as fewer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot import canvas, compare, describe, iterate, media
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

    async def call(self, job: Job) -> Called:
        spec, user = job.spec, job.user_id
        model = self.catalog.get(spec.model)
        inputs = [await self.store.input_image(h) for h in job.input_images]
        if job.kind is JobKind.REFINE:
            return await self._refine(job, model, inputs)
        if job.kind is JobKind.DESCRIBE:
            return Called(await describe.run(self.router, model.id, inputs, user))
        if job.spec.models:
            return Called(*await compare.run(self.catalog, job, self._one(job)))
        if "pick" in job.origin:  # one original of a comparison: already made and paid for
            return Called(await self._picked(job.origin["pick"]))
        if model.family is ApiFamily.IMAGES:
            if job.kind is JobKind.IMAGINE:
                return _counted(await self.router.generate(job.prompt, spec, user=user), spec.n)
            mask = await self.store.input_image(job.mask_image) if job.mask_image else None
            edited = await self.router.edit(job.prompt, inputs, spec, mask=mask, user=user)
            if job.origin.get("resample"):  # an upscale: the model's largest, then a resample
                return await _resampled(edited, float(job.origin["resample"]))
            return _counted(edited, spec.n)
        # base64 of large inputs: off the event loop
        message = await asyncio.to_thread(RouterClient.user_message, job.prompt, inputs)
        return await chat_n(self.router, model.id, [message], spec, user=user)

    def _one(self, job: Job) -> compare.OneCall:
        async def one(model: ModelInfo, spec: ImageSpec) -> RouterResult:
            if model.family is ApiFamily.IMAGES:
                return await self.router.generate(job.prompt, spec, user=job.user_id)
            message = RouterClient.user_message(job.prompt, [])
            called = await chat_n(self.router, model.id, [message], spec, user=job.user_id)
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
        if turn.messages is None:
            edited = await self.router.edit(turn.prompt, turn.images, job.spec, user=job.user_id)
            return Called(edited, turn.warnings)
        answer = await self.router.chat(
            model.id,
            turn.messages,
            aspect_ratio=job.spec.aspect_ratio,
            image_size=job.spec.resolution,
            user=job.user_id,
        )
        return Called(answer, turn.warnings)


async def chat_n(
    router: RouterClient,
    model: str,
    messages: list[dict[str, Any]],
    spec: ImageSpec,
    *,
    user: str | None = None,
) -> Called:
    """Chat image models answer one image a call, so ``n`` images are ``n`` calls at once; the
    answers that came back (saying which failed and why), or the first error if none did."""
    calls = [
        router.chat(
            model, messages, aspect_ratio=spec.aspect_ratio, image_size=spec.resolution, user=user
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
        data, width, height = await asyncio.to_thread(canvas.resample, image.data, factor)
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
