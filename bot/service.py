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
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from typing import Any

from bot import iterate, offload
from bot.calls import Calls
from bot.catalog import Catalog, ModelInfo
from bot.config import Settings
from bot.domain import ImageSpec, InputImage, Job, JobKind, JobResult
from bot.errors import (
    InvalidOption,
    NotFound,
)
from bot.inputs import (
    Limits,
    RawImage,
    Request,
    SeesChannel,
    check_may_use,
    noted,
    prepare_inputs,
)
from bot.known_models import builtin_for
from bot.metrics import Metrics
from bot.policy import DEFAULT_TTL, Policy, way_of
from bot.records import JobRecords
from bot.router import RouterClient
from bot.router.profiles import PROFILES
from bot.rules import Rules
from bot.running import JobRunner
from bot.sessions import Conversations
from bot.spending import Spending
from bot.storage import Store

log = logging.getLogger(__name__)

DEFAULT_REFINE_MODEL = "vertex/google/gemini-3-pro-image-preview"


class ImageService(JobRunner):
    """Turns requests into stored jobs (here) and runs them against the router (``JobRunner``)."""

    def __init__(
        self,
        router: RouterClient,
        store: Store,
        catalog: Catalog,
        limits: Limits | None = None,
        *,
        worker: str | None = None,
        refine_model: str = DEFAULT_REFINE_MODEL,
        rules_ttl: float = DEFAULT_TTL,
        spending: Spending | None = None,
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
        self.policy = Policy(store, catalog, ttl=rules_ttl)
        self.spending = spending or Spending(store, catalog)
        self.records = JobRecords(store, self.limits, self.spending)
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
                profile=PROFILES[settings.kind],
            ) as router,
            await Store.open(
                settings.database,
                settings.data_dir,
                image_store=settings.image_store,
                s3_endpoint=settings.s3_endpoint_url,
            ) as store,
            offload.session(
                settings.max_concurrent_decodes, settings.offload_above_mb, settings.offload_nice
            ),
        ):
            catalog = Catalog.load(
                settings.catalog_file,
                builtin_for(settings.kind),
                images_api=router.profile.images_api,
            )
            limits = Limits.from_settings(settings)
            yield cls(
                router,
                store,
                catalog,
                limits,
                worker=settings.worker_id,
                refine_model=settings.refine_model,
                rules_ttl=settings.rules_cache_seconds,
                spending=Spending(
                    store,
                    catalog,
                    bot_usd_per_day=settings.budget_usd_per_day,
                    confirm_above=settings.confirm_above_usd,
                ),
            )

    # -- submitting -------------------------------------------------------------------------
    async def submit_imagine(
        self,
        prompt: str,
        spec: ImageSpec,
        *,
        user_id: str | None = None,
        origin: dict[str, Any] | None = None,
        parent_job_id: int | None = None,
    ) -> Job:
        """Validate the request and store it as a queued job; invalid options fail the job."""
        request = Request(
            JobKind.IMAGINE, prompt.strip(), spec, user_id, origin or {}, parent_job_id
        )
        request, rules = await self._admitted(request)
        async with self.records.kept_on_failure(request):
            self._checked(request)
            self.policy.check(rules, request.spec, request.origin)
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
        kind: JobKind = JobKind.EDIT,
    ) -> Job:
        """Check and store the input images, then the job; bad input fails the job with a reason."""
        request = Request(kind, prompt.strip(), spec, user_id, origin or {}, parent_job_id)
        request, rules = await self._admitted(request)
        async with self.records.kept_on_failure(request):
            model = self._checked(request)
            self.policy.check(rules, request.spec, request.origin)
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
        sees: SeesChannel | None = None,
        confirmed: bool = False,
    ) -> Job:
        """A new job with the same prompt, parameters and inputs as ``job`` (``n`` images);
        ``confirmed``: the user saw its estimate and pressed Confirm."""
        check_may_use(job, user_id, origin, sees)
        spec = replace(job.spec, n=n) if n else job.spec
        origin = {k: v for k, v in (origin or job.origin).items() if k != "warnings"}
        # What an iteration is (an upscale's resample) goes with the retry too.
        origin = {**{k: job.origin[k] for k in iterate.KEPT if k in job.origin}, **origin}
        request = self._like(job, job.prompt, spec, user_id or job.user_id, origin)
        request, rules = await self._admitted(request)
        async with self.records.kept_on_failure(request):
            # The request was checked when first made; the rules may have changed since.
            self.policy.check(rules, request.spec, request.origin)
        return await self.records.store(
            request, job.input_images, job.mask_image, confirmed=confirmed, retry_of=job.id
        )

    async def submit_variant(
        self,
        job: Job,
        prompt: str,
        spec: ImageSpec,
        *,
        user_id: str | None,
        origin: dict[str, Any],
        sees: SeesChannel | None = None,
    ) -> Job:
        """A new job like ``job`` (same kind and inputs) with a new prompt or parameters."""
        check_may_use(job, user_id, origin, sees)
        request = self._like(job, prompt.strip(), spec, user_id, origin)
        request, rules = await self._admitted(request)
        async with self.records.kept_on_failure(replace(request, session_id=None)):
            self._checked(request).check_inputs(len(job.input_images))
            self.policy.check(rules, request.spec, request.origin)
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
        sees: SeesChannel | None = None,
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
                check_may_use(pointed, user_id, origin, sees)
        # Kept with its session even when refused, so Retry is a turn of the same thread.
        request = Request(
            JobKind.REFINE, prompt.strip(), spec, user_id, origin or {}, session_id=session_id
        )
        request, rules = await self._admitted(request)
        async with self.records.kept_on_failure(request):
            if not request.prompt:
                raise InvalidOption("Write what you want changed.")
            self.policy.check(rules, request.spec, request.origin, "refine")
            model = self.catalog.get(spec.model)
            prepared, _, notes = (
                await prepare_inputs(model, inputs, None, self.limits) if inputs else ([], None, [])
            )
        hashes = [await self._put(image) for image in prepared]
        return await self.records.store(noted(request, notes), hashes)

    async def submit_iterate(
        self,
        job: Job,
        action: str,
        *,
        user_id: str | None,
        origin: dict[str, Any],
        sees: SeesChannel | None = None,
    ) -> Job:
        """Vary, zoom out, pan, square or upscale ``job``'s first image: a child edit job."""
        check_may_use(job, user_id, origin, sees)
        if not job.result_images:
            raise NotFound("That job has no image to go on from.")
        image = await self.store.get_image(job.result_images[0])
        step = await iterate.plan(job, action, self.catalog.get(job.spec.model), image)
        origin = {**origin, **step.origin, "notes": [*origin.get("notes", []), *step.notes]}
        return await self.submit_edit(
            step.prompt,
            step.inputs,
            step.spec,
            mask=step.mask,
            user_id=user_id,
            origin=origin,
            parent_job_id=job.id,
        )

    @staticmethod
    def _like(
        job: Job, prompt: str, spec: ImageSpec, user_id: str | None, origin: dict[str, Any]
    ) -> Request:
        return Request(job.kind, prompt, spec, user_id, origin, job.parent_job_id, job.session_id)

    async def _admitted(self, request: Request) -> tuple[Request, Rules]:
        """The server's rules for this request; a closed channel or way in (AccessDenied) is
        refused before anything is stored, and what the rules decide is kept in the origin."""
        rules = await self.policy.admit(way_of(request.kind), request.origin)
        return replace(request, origin=self.policy.stamped(rules, request.origin)), rules

    def _checked(self, request: Request) -> ModelInfo:
        if not request.prompt:
            raise InvalidOption("Write what you want in the prompt.")
        model = self.catalog.get(request.spec.model)
        model.check_spec(request.spec)
        return model

    async def _put(self, image: InputImage) -> str:
        return (await self.store.put_image(image.data, image.mime)).sha256

    # -- convenience for front ends that run jobs inline (the CLI) ----------------------------
    async def imagine(self, prompt: str, spec: ImageSpec, **kwargs: Any) -> JobResult:
        job = await self.submit_imagine(prompt, spec, **kwargs)
        return await self.run(job.id)

    async def edit(
        self, prompt: str, inputs: Sequence[RawImage], spec: ImageSpec, **kwargs: Any
    ) -> JobResult:
        job = await self.submit_edit(prompt, inputs, spec, **kwargs)
        return await self.run(job.id)
