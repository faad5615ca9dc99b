"""ImageService: imagine / edit / refine orchestration, with no Discord types.

Every job is written to the store before the router is called, so a failure anywhere after that
still leaves the prompt and parameters on record for Retry. Conversations (sessions and turns)
belong to ``bot.sessions``; this module only asks it for a turn's context and records results.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

from bot.calls import Calls
from bot.catalog import Catalog, ModelInfo
from bot.config import Settings
from bot.domain import ImageSpec, InputImage, Job, JobKind, JobResult, RouterResult
from bot.errors import (
    EaselError,
    InvalidOption,
    JobCancelled,
    JobTaken,
    NotFound,
    StorageError,
    why_not_kept,
)
from bot.inputs import Limits, RawImage, Request, check_may_use, noted, prepare_inputs
from bot.logs import job_context
from bot.metrics import Metrics
from bot.records import JobRecords
from bot.router import RouterClient
from bot.sessions import Conversations
from bot.storage import Store

log = logging.getLogger(__name__)

DEFAULT_REFINE_MODEL = "vertex/google/gemini-3-pro-image-preview"


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
        refine_model: str = DEFAULT_REFINE_MODEL,
    ) -> None:
        self.router = router
        self.store = store
        self.catalog = catalog
        self.limits = limits or Limits()
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self.sessions = Conversations(
            store,
            catalog,
            self.limits.budget,
            refine_model=refine_model,
            max_pixels=self.limits.max_input_pixels,
        )
        self.calls = Calls(router, store, catalog, self.sessions)
        self.records = JobRecords(store, self.limits)
        self.metrics: Metrics | None = None  # set by the bot, which serves /metrics

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator[ImageService]:
        """The one wiring of router, store and catalog, closed whatever happens."""
        async with (
            RouterClient(
                settings.router_base_url,
                settings.router_key(),
                timeout=settings.request_timeout,
                max_retries=settings.router_max_retries,
                retry_budget=settings.router_retry_budget,
                result_hosts=settings.result_hosts,
            ) as router,
            await Store.open(
                settings.database,
                settings.data_dir,
                image_store=settings.image_store,
                s3_endpoint=settings.s3_endpoint_url,
            ) as store,
        ):
            catalog = Catalog.load(settings.catalog_file)
            limits = Limits.from_settings(settings)
            yield cls(
                router,
                store,
                catalog,
                limits,
                worker=settings.worker_id,
                refine_model=settings.refine_model,
            )

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
        request = Request(JobKind.IMAGINE, prompt.strip(), spec, user_id, origin or {})
        async with self.records.kept_on_failure(request):
            self._checked(request)
        return await self.records.store(request)

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
        request = Request(
            JobKind.EDIT, prompt.strip(), spec, user_id, origin or {}, parent_job_id=parent_job_id
        )
        async with self.records.kept_on_failure(request):
            model = self._checked(request)
            prepared, prepared_mask, notes = await prepare_inputs(model, inputs, mask, self.limits)
        request = noted(request, notes)
        hashes = [await self._put(image) for image in prepared]
        mask_hash = await self._put(prepared_mask) if prepared_mask is not None else None
        return await self.records.store(request, hashes, mask_hash)

    async def submit_retry(
        self,
        job: Job,
        *,
        user_id: str | None = None,
        origin: dict[str, Any] | None = None,
        n: int | None = None,
    ) -> Job:
        """A new job with the same prompt, parameters and inputs as ``job`` (``n`` images)."""
        check_may_use(job, user_id, origin)
        spec = replace(job.spec, n=n) if n else job.spec
        origin = {k: v for k, v in (origin or job.origin).items() if k != "warnings"}
        request = self._like(job, job.prompt, spec, user_id or job.user_id, origin)
        async with self.records.kept_on_failure(request):
            pass  # only the queue's room to check: the request was checked when first made
        return await self.records.store(request, job.input_images, job.mask_image, retry_of=job.id)

    async def submit_variant(
        self, job: Job, prompt: str, spec: ImageSpec, *, user_id: str | None, origin: dict[str, Any]
    ) -> Job:
        """A new job like ``job`` (same kind and inputs) with a new prompt or parameters."""
        check_may_use(job, user_id, origin)
        request = self._like(job, prompt.strip(), spec, user_id, origin)
        async with self.records.kept_on_failure(replace(request, session_id=None)):
            self._checked(request).check_inputs(len(job.input_images))
        return await self.records.store(
            request, job.input_images, job.mask_image, variant_of=job.id
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
        base = (origin or {}).get("base_job")
        if base is not None:  # a reply to a version: that version must be one the user may see
            pointed = await self.store.get_job(int(base))
            if pointed is None or pointed.session_id != session_id:
                check_may_use(pointed, user_id, origin)
        # Kept with its session even when refused, so Retry is a turn of the same thread.
        request = Request(
            JobKind.REFINE, prompt.strip(), spec, user_id, origin or {}, session_id=session_id
        )
        async with self.records.kept_on_failure(request):
            if not request.prompt:
                raise InvalidOption("Write what you want changed.")
            model = self.catalog.get(spec.model)
            prepared, _, notes = (
                await prepare_inputs(model, inputs, None, self.limits) if inputs else ([], None, [])
            )
        hashes = [await self._put(image) for image in prepared]
        return await self.records.store(noted(request, notes), hashes)

    @staticmethod
    def _like(
        job: Job, prompt: str, spec: ImageSpec, user_id: str | None, origin: dict[str, Any]
    ) -> Request:
        return Request(job.kind, prompt, spec, user_id, origin, job.parent_job_id, job.session_id)

    def _checked(self, request: Request) -> ModelInfo:
        if not request.prompt:
            raise InvalidOption("Write what you want in the prompt.")
        model = self.catalog.get(request.spec.model)
        model.check_spec(request.spec)
        return model

    async def _put(self, image: InputImage) -> str:
        return (await self.store.put_image(image.data, image.mime)).sha256

    def weight_of(self, job: Job) -> int:
        return self.calls.weight_of(job)

    # -- running ----------------------------------------------------------------------------
    async def run(self, job_id: int, claimed: Job | None = None) -> JobResult:
        """Run a queued job (or one this worker ``claimed``) to the end; errors are recorded
        on the job and re-raised."""
        with job_context(job_id):
            job = claimed or await self._claim(job_id)
            log.info("running %s with %s", job.kind, job.spec.model)
            began = time.monotonic()
            try:
                called = await self.calls.call(job)
            except EaselError as exc:
                self._observe(job, began, None)
                await self._fail(job, exc)
                raise
            usage = called.result.usage
            self._observe(job, began, usage.cost if usage else None)
            try:
                return await self._finish(job, called.result, called.warnings)
            except Exception as exc:
                # Paid for but not kept (a full disk, the database gone): the job ends failed,
                # never left running to be paid for again at the next start, and the user is told.
                log.exception("could not store the answer")
                failed = StorageError(
                    f"The image was made but I couldn't keep it: {why_not_kept(exc)}"
                )
                await self._fail(job, failed)
                raise failed from exc

    def _observe(self, job: Job, began: float, cost: float | None) -> None:
        if self.metrics is not None:
            self.metrics.observe_call(job.spec.model, time.monotonic() - began, cost)

    async def _fail(self, job: Job, exc: EaselError) -> None:
        log.info("failed: %s", exc.code)
        await self.store.fail_job(
            job.id,
            error_code=exc.code,
            error_message=exc.user_message,
            result_text=getattr(exc, "model_text", None),
        )
        exc.job_id = job.id

    async def _claim(self, job_id: int) -> Job:
        job = await self.store.start_job(job_id, self.worker)
        if job is None:
            current = await self.store.get_job(job_id)
            if current is not None and current.status.value == "cancelled":
                raise JobCancelled()
            raise JobTaken()
        return job

    async def _finish(self, job: Job, result: RouterResult, warnings: tuple[str, ...]) -> JobResult:
        hashes = []
        for image in result.images:
            stored = await self.store.put_image(image.data, image.mime, image.width, image.height)
            hashes.append(stored.sha256)
        cost = result.usage.cost if result.usage else None
        if job.kind is JobKind.REFINE and job.session_id is not None:
            await self.sessions.record(job, result, hashes)
        # Kept with the job, so a result posted after a restart still says them.
        origin = {**job.origin, "warnings": list(warnings)} if warnings else None
        done = await self.store.finish_job(
            job.id, result_images=hashes, result_text=result.text, cost=cost, origin=origin
        )
        log.info("done, %d image(s), cost %s", len(hashes), cost)
        return JobResult(
            job=done, images=result.images, text=result.text, cost=cost, warnings=warnings
        )

    # -- convenience for front ends that run jobs inline (the CLI) ----------------------------
    async def imagine(self, prompt: str, spec: ImageSpec, **kwargs: Any) -> JobResult:
        job = await self.submit_imagine(prompt, spec, **kwargs)
        return await self.run(job.id)

    async def edit(
        self, prompt: str, inputs: Sequence[RawImage], spec: ImageSpec, **kwargs: Any
    ) -> JobResult:
        job = await self.submit_edit(prompt, inputs, spec, **kwargs)
        return await self.run(job.id)
