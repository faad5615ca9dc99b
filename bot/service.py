"""ImageService: imagine / edit / refine orchestration, with no Discord types.

Every job is written to the store before the router is called, so a failure anywhere after that
still leaves the prompt and parameters on record for Retry.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot import conversation, fitting, images, masks, media
from bot.catalog import BACKGROUNDS, OUTPUT_FORMATS, Catalog, ModelInfo
from bot.conversation import Budget, ContextTurn
from bot.domain import (
    ApiFamily,
    GeneratedImage,
    ImageSpec,
    InputImage,
    Job,
    JobKind,
    JobResult,
    RouterResult,
    Turn,
    Usage,
)
from bot.errors import EaselError, InputError, InvalidOption, JobCancelled, JobTaken, NotFound
from bot.router import RouterClient
from bot.storage import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RawImage:
    """Bytes as the user gave them (a file, a Discord attachment), not yet checked."""

    data: bytes
    name: str = "image"


@dataclass(frozen=True)
class Limits:
    max_input_bytes: int = 50 * 1024 * 1024
    max_input_pixels: int = 50_000_000
    budget: Budget = field(default_factory=Budget)


class ImageService:
    """Turns requests into stored jobs and runs them against the router."""

    def __init__(
        self,
        router: RouterClient,
        store: Store,
        catalog: Catalog,
        limits: Limits | None = None,
        *,
        worker: str | None = None,
    ) -> None:
        self.router = router
        self.store = store
        self.catalog = catalog
        self.limits = limits or Limits()
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self._warnings: dict[int, tuple[str, ...]] = {}  # job id -> context warnings

    # -- submitting -------------------------------------------------------------------------
    async def submit_imagine(
        self,
        prompt: str,
        spec: ImageSpec,
        *,
        user_id: str | None = None,
        origin: dict[str, Any] | None = None,
    ) -> Job:
        """Validate the request and store it as a queued job; invalid options fail the job."""
        return await self._submit(JobKind.IMAGINE, prompt, spec, user_id, origin or {}, (), None)

    async def submit_edit(
        self,
        prompt: str,
        inputs: Sequence[RawImage],
        spec: ImageSpec,
        *,
        mask: RawImage | None = None,
        user_id: str | None = None,
        origin: dict[str, Any] | None = None,
        parent_job_id: int | None = None,
    ) -> Job:
        """Check and store the input images, then the job; bad input fails the job with a reason."""
        return await self._submit(
            JobKind.EDIT,
            prompt,
            spec,
            user_id,
            origin or {},
            inputs,
            mask,
            parent_job_id=parent_job_id,
        )

    async def submit_retry(
        self, job: Job, *, user_id: str | None = None, origin: dict[str, Any] | None = None
    ) -> Job:
        """A new job with the same prompt, parameters and inputs as ``job``."""
        return await self.store.create_job(
            kind=job.kind,
            prompt=job.prompt,
            params=job.params,
            user_id=user_id or job.user_id,
            origin={**(origin or job.origin), "retry_of": job.id},
            input_images=job.input_images,
            mask_image=job.mask_image,
            parent_job_id=job.parent_job_id,
            session_id=job.session_id,
        )

    async def submit_variant(
        self, job: Job, prompt: str, spec: ImageSpec, *, user_id: str | None, origin: dict[str, Any]
    ) -> Job:
        """A new job like ``job`` (same kind and inputs) with a new prompt or parameters."""
        prompt = prompt.strip()
        try:
            if not prompt:
                raise InvalidOption("Write what you want in the prompt.")
            self.check_spec(self.catalog.get(spec.model), spec)
            self.catalog.get(spec.model).check_inputs(len(job.input_images))
        except EaselError as exc:
            await self._record_failure(
                job.kind, prompt, spec, user_id, origin, exc, parent_job_id=job.parent_job_id
            )
            raise
        return await self.store.create_job(
            kind=job.kind,
            prompt=prompt,
            params=spec.to_params(),
            user_id=user_id,
            origin={**origin, "variant_of": job.id},
            input_images=job.input_images,
            mask_image=job.mask_image,
            parent_job_id=job.parent_job_id,
            session_id=job.session_id,
        )

    async def submit_refine(
        self,
        session_id: int,
        prompt: str,
        inputs: Sequence[RawImage] = (),
        *,
        user_id: str | None = None,
        origin: dict[str, Any] | None = None,
    ) -> Job:
        """A queued turn of a conversation; the session's model and settings decide the call."""
        session = await self.store.get_session(session_id)
        if session is None:
            raise NotFound("That conversation no longer exists.")
        spec = ImageSpec.from_params({**session.settings.get("spec", {}), "model": session.model})
        prompt = prompt.strip()
        origin = origin or {}
        try:
            if not prompt:
                raise InvalidOption("Write what you want changed.")
            model = self.catalog.get(spec.model)
            prepared, _ = await self.prepare_inputs(model, inputs, None) if inputs else ([], None)
        except EaselError as exc:
            await self._record_failure(JobKind.REFINE, prompt, spec, user_id, origin, exc)
            raise
        hashes = [(await self.store.put_image(i.data, i.mime)).sha256 for i in prepared]
        return await self.store.create_job(
            kind=JobKind.REFINE,
            prompt=prompt,
            params=spec.to_params(),
            user_id=user_id,
            origin=origin,
            input_images=hashes,
            session_id=session_id,
        )

    async def _record_failure(
        self,
        kind: JobKind,
        prompt: str,
        spec: ImageSpec,
        user_id: str | None,
        origin: dict[str, Any],
        exc: EaselError,
        *,
        parent_job_id: int | None = None,
    ) -> None:
        """Keep a request that can't run, so the user can fix it and retry."""
        job = await self.store.create_job(
            kind=kind,
            prompt=prompt,
            params=spec.to_params(),
            user_id=user_id,
            origin=origin,
            parent_job_id=parent_job_id,
        )
        await self.store.fail_job(job.id, error_code=exc.code, error_message=exc.user_message)
        exc.job_id = job.id

    async def _submit(
        self,
        kind: JobKind,
        prompt: str,
        spec: ImageSpec,
        user_id: str | None,
        origin: dict[str, Any],
        inputs: Sequence[RawImage],
        mask: RawImage | None,
        *,
        parent_job_id: int | None = None,
    ) -> Job:
        prompt = prompt.strip()
        try:
            if not prompt:
                raise InvalidOption("Write what you want in the prompt.")
            model = self.catalog.get(spec.model)
            self.check_spec(model, spec)
            if kind is JobKind.EDIT:
                prepared, prepared_mask = await self.prepare_inputs(model, inputs, mask)
        except EaselError as exc:
            await self._record_failure(
                kind, prompt, spec, user_id, origin, exc, parent_job_id=parent_job_id
            )
            raise
        input_hashes: list[str] = []
        mask_hash = None
        if kind is JobKind.EDIT:
            for image in prepared:
                input_hashes.append((await self.store.put_image(image.data, image.mime)).sha256)
            if prepared_mask is not None:
                mask_hash = (
                    await self.store.put_image(prepared_mask.data, prepared_mask.mime)
                ).sha256
        return await self.store.create_job(
            kind=kind,
            prompt=prompt,
            params=spec.to_params(),
            user_id=user_id,
            origin=origin,
            input_images=input_hashes,
            mask_image=mask_hash,
            parent_job_id=parent_job_id,
        )

    def check_spec(self, model: ModelInfo, spec: ImageSpec) -> None:
        """Refuse options the model does not offer, before any money is spent."""
        if not 1 <= spec.n <= 10:
            raise InvalidOption("Choose between 1 and 10 images.")
        if model.family is ApiFamily.IMAGES:
            model.check_option("size", spec.size, model.sizes)
            model.check_option("quality", spec.quality, model.qualities)
            model.check_option("format", spec.output_format, OUTPUT_FORMATS)
            model.check_option("background", spec.background, BACKGROUNDS)
            if spec.background == "transparent" and spec.output_format == "jpeg":
                raise InvalidOption("A transparent background needs PNG or WebP, not JPEG.")
            if spec.n > model.max_n:
                raise InvalidOption(f"{model.label} makes at most {model.max_n} images at once.")
        else:
            model.check_option("aspect ratio", spec.aspect_ratio, model.aspect_ratios)
            model.check_option("resolution", spec.resolution, model.resolutions)

    async def prepare_inputs(
        self, model: ModelInfo, inputs: Sequence[RawImage], mask: RawImage | None
    ) -> tuple[list[InputImage], InputImage | None]:
        """Validate and convert inputs off the event loop; the mask fits the first image."""
        if not inputs:
            raise InputError("There's no image to edit. Attach or reply to an image.")
        model.check_inputs(len(inputs))
        if mask is not None and not model.supports_mask:
            raise InvalidOption(
                f"{model.label} can't use a mask; pick an images model such as "
                "GPT Image, or leave the mask out."
            )
        prepared = [await asyncio.to_thread(self._prepare_one, raw, model) for raw in inputs]
        prepared_mask = None
        if mask is not None:
            first = await asyncio.to_thread(images.identify, prepared[0].data)
            prepared_mask = await asyncio.to_thread(
                masks.prepare_mask, mask.data, (first.width, first.height)
            )
        return prepared, prepared_mask

    def _prepare_one(self, raw: RawImage, model: ModelInfo) -> InputImage:
        images.validate_input(
            raw.data, max_bytes=self.limits.max_input_bytes, max_pixels=self.limits.max_input_pixels
        )
        return fitting.prepare_input(
            raw.data,
            max_bytes=model.max_input_bytes,
            max_pixels=self.limits.max_input_pixels,
            name=raw.name,
        )

    # -- running ----------------------------------------------------------------------------
    async def run(self, job_id: int) -> JobResult:
        """Run a queued job to the end; errors are recorded on the job and re-raised."""
        job = await self.store.start_job(job_id, self.worker)
        if job is None:
            current = await self.store.get_job(job_id)
            if current is not None and current.status.value == "cancelled":
                raise JobCancelled()
            raise JobTaken()
        log.info("job %s: running %s with %s", job.id, job.kind, job.spec.model)
        try:
            result = await self._call_router(job)
        except EaselError as exc:
            log.info("job %s: failed: %s", job.id, exc.code)
            await self.store.fail_job(
                job.id,
                error_code=exc.code,
                error_message=exc.user_message,
                result_text=getattr(exc, "model_text", None),
            )
            exc.job_id = job.id
            raise
        hashes = []
        for image in result.images:
            stored = await self.store.put_image(image.data, image.mime, image.width, image.height)
            hashes.append(stored.sha256)
        cost = result.usage.cost if result.usage else None
        if job.kind is JobKind.REFINE and job.session_id is not None:
            await self._record_turns(job, result, hashes)
        done = await self.store.finish_job(
            job.id, result_images=hashes, result_text=result.text, cost=cost
        )
        log.info("job %s: done, %d image(s), cost %s", job.id, len(hashes), cost)
        warnings = self._warnings.pop(job.id, ())
        return JobResult(
            job=done, images=result.images, text=result.text, cost=cost, warnings=warnings
        )

    async def _record_turns(self, job: Job, result: RouterResult, hashes: list[str]) -> None:
        """Only a successful turn joins the conversation, so a failure never pollutes it."""
        assert job.session_id is not None
        turns = await self.store.turns(job.session_id)
        version = 1 + sum(1 for t in turns if t.role == "assistant" and t.status == "ok")
        turn = await self.add_job_turns(
            job.session_id,
            job,
            self.catalog.get(job.spec.model),
            version=version,
            text=result.text,
            images=hashes,
            reasoning_details=result.reasoning_details,
        )
        await self.store.update_session(job.session_id, head_turn_id=turn.id)

    async def add_job_turns(
        self,
        session_id: int,
        job: Job,
        model: ModelInfo,
        *,
        version: int,
        text: str | None,
        images: Sequence[str],
        reasoning_details: list[Any] | None = None,
    ) -> Turn:
        """A job as the two turns it was: the request, and the model's answer."""
        await self.store.add_turn(
            session_id, role="user", text=job.prompt, images=job.input_images, job_id=job.id
        )
        turn: Turn = await self.store.add_turn(
            session_id,
            role="assistant",
            text=text,
            images=await self.sendable(images, model),
            reasoning_details=reasoning_details,
            job_id=job.id,
            version=version,
        )
        return turn

    async def sendable(self, hashes: Sequence[str], model: ModelInfo) -> list[str]:
        """Copies of stored images that the model accepts as input (a 4K result is often over
        a chat model's 7 MB); made once when an image joins a conversation, originals kept."""
        out = []
        for sha in hashes:
            info = await self.store.image_info(sha)
            if info is not None and info.size <= model.max_input_bytes:
                out.append(sha)
                continue
            data = await self.store.get_image(sha)
            prepared = await asyncio.to_thread(
                fitting.prepare_input,
                data,
                max_bytes=model.max_input_bytes,
                max_pixels=self.limits.max_input_pixels,
            )
            out.append((await self.store.put_image(prepared.data, prepared.mime)).sha256)
        return out

    async def history(self, session_id: int) -> list[ContextTurn]:
        """The session's successful turns with their images, oldest first."""
        return await self._load_turns(await self._session_turns(session_id))

    async def _session_turns(self, session_id: int) -> list[Turn]:
        session = await self.store.get_session(session_id)
        turns = [t for t in await self.store.turns(session_id) if t.status == "ok"]
        if session is not None and session.head_turn_id is not None:
            # A revert makes an older result the base: the conversation continues from there.
            head = next((i for i, t in enumerate(turns) if t.id == session.head_turn_id), None)
            if head is not None:
                turns = turns[: head + 1]
        return turns

    async def _load_turns(self, turns: Sequence[Turn]) -> list[ContextTurn]:
        return [
            ContextTurn(
                t.role, t.text, tuple([await self._load(h) for h in t.images]), t.reasoning_details
            )
            for t in turns
        ]

    async def _image_bytes(self, hashes: Sequence[str]) -> int:
        infos = [await self.store.image_info(h) for h in hashes]
        return sum(info.size for info in infos if info is not None)

    async def _call_refine(
        self, job: Job, model: ModelInfo, inputs: list[InputImage]
    ) -> RouterResult:
        assert job.session_id is not None
        turns = await self._session_turns(job.session_id)
        if model.family is ApiFamily.IMAGES:
            latest = next((t for t in reversed(turns) if t.images), None)
            base = await self._load(latest.images[-1]) if latest else None
            pointed = job.origin.get("base_job")
            if pointed is not None:  # the user replied to an earlier version in the thread
                source = await self.store.get_job(int(pointed))
                if source is not None and source.result_images:
                    base = await self._load(source.result_images[0])
            images_in = ([base] if base else []) + inputs
            if not images_in:
                raise InputError("There's no image in this conversation yet to refine.")
            return await self.router.edit(
                job.prompt, images_in[: model.max_inputs], job.spec, user=job.user_id
            )
        # Trim on the sizes the store records, so images that won't be sent aren't loaded.
        sizes = [(t.role, await self._image_bytes(t.images)) for t in turns]
        sizes.append(("user", sum(len(i.data) for i in inputs)))
        skip = min(conversation.drop_count(sizes, self.limits.budget), len(turns))
        history = await self._load_turns(turns[skip:])
        context = await asyncio.to_thread(
            conversation.build, history, job.prompt, inputs, self.limits.budget, skip
        )
        if context.warnings:
            self._warnings[job.id] = context.warnings
        return await self.router.chat(
            model.id,
            context.messages,
            aspect_ratio=job.spec.aspect_ratio,
            image_size=job.spec.resolution,
            user=job.user_id,
        )

    async def _call_router(self, job: Job) -> RouterResult:
        spec = job.spec
        model = self.catalog.get(spec.model)
        inputs = [await self._load(h) for h in job.input_images]
        mask = await self._load(job.mask_image) if job.mask_image else None
        user = job.user_id
        if job.kind is JobKind.REFINE:
            return await self._call_refine(job, model, inputs)
        if model.family is ApiFamily.IMAGES:
            if job.kind is JobKind.IMAGINE:
                return await self.router.generate(job.prompt, spec, user=user)
            return await self.router.edit(job.prompt, inputs, spec, mask=mask, user=user)
        # base64 of large inputs: off the event loop
        message = await asyncio.to_thread(RouterClient.user_message, job.prompt, inputs)
        return await self.chat_n(model.id, [message], spec, user=user)

    async def chat_n(
        self,
        model: str,
        messages: list[dict[str, Any]],
        spec: ImageSpec,
        *,
        user: str | None = None,
    ) -> RouterResult:
        """Chat image models return one image a call, so ``n`` images are ``n`` calls at once."""
        calls = [
            self.router.chat(
                model,
                messages,
                aspect_ratio=spec.aspect_ratio,
                image_size=spec.resolution,
                user=user,
            )
            for _ in range(spec.n)
        ]
        results = await asyncio.gather(*calls, return_exceptions=True)
        good = [r for r in results if isinstance(r, RouterResult)]
        if not good:
            first = results[0]
            assert isinstance(first, BaseException)
            raise first
        return _merge(good)

    async def _load(self, sha256: str) -> InputImage:
        data = await self.store.get_image(sha256)
        info = await self.store.image_info(sha256)
        mime = info.mime if info else images.sniff(data)
        return InputImage(data=data, mime=mime, name=f"image.{media.extension(mime)}")

    # -- convenience for front ends that run jobs inline (the CLI) ----------------------------
    async def imagine(self, prompt: str, spec: ImageSpec, **kwargs: Any) -> JobResult:
        job = await self.submit_imagine(prompt, spec, **kwargs)
        return await self.run(job.id)

    async def edit(
        self, prompt: str, inputs: Sequence[RawImage], spec: ImageSpec, **kwargs: Any
    ) -> JobResult:
        job = await self.submit_edit(prompt, inputs, spec, **kwargs)
        return await self.run(job.id)

    def default_spec(self, model: str, **options: Any) -> ImageSpec:
        return replace(
            ImageSpec(model=model), **{k: v for k, v in options.items() if v is not None}
        )


def _merge(results: Sequence[RouterResult]) -> RouterResult:
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
