"""Running a stored job: claim it, call the router, keep the answer, and end the job in one
state whatever happens. ``ImageService`` is a ``JobRunner``; the queue calls ``run``."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from bot import failpoints
from bot.domain import Job, JobKind, JobResult, RouterResult
from bot.errors import EaselError, JobCancelled, JobTaken, StorageError, why_not_kept
from bot.logs import job_context

if TYPE_CHECKING:
    from bot.calls import Calls
    from bot.metrics import Metrics
    from bot.sessions import Conversations
    from bot.storage import Store

log = logging.getLogger("bot.service")


class JobRunner:
    """Runs queued jobs; the service provides the store, the calls and the conversations."""

    store: Store
    calls: Calls
    sessions: Conversations
    worker: str
    metrics: Metrics | None

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
                await failpoints.reach("answered")
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

    def weight_of(self, job: Job) -> int:
        """How many of the queue's slots the job takes (its router calls at once)."""
        return self.calls.weight_of(job)

    def memory_of(self, job: Job) -> int:
        """The image memory the job holds from its start until it is delivered (bytes)."""
        return self.calls.memory_of(job)

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
        cost = result.usage.cost if result.usage else None
        # Kept with the job, so a result posted after a restart still says them.
        origin = {**job.origin, "warnings": list(warnings)} if warnings else None
        hashes: list[str] = []
        turn = job.kind is JobKind.REFINE and job.session_id is not None
        if turn:
            # The conversation's turns point at the images: their rows come first.
            for image in result.images:
                stored = await self.store.put_image(
                    image.data, image.mime, image.width, image.height
                )
                hashes.append(stored.sha256)
            await self.sessions.record(job, result, hashes)
        done = await self.store.finish_job(
            job.id,
            result_images=hashes,
            result_text=result.text,
            cost=cost,
            origin=origin,
            kept=() if turn else result.images,  # stored with the job's end, in one transaction
        )
        log.info("done, %d image(s), cost %s", len(done.result_images), cost)
        await failpoints.reach("stored")
        return JobResult(
            job=done, images=result.images, text=result.text, cost=cost, warnings=warnings
        )
