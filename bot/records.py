"""The one place a request becomes a stored job, and a request that can't run is kept (failed,
with its prompt) so the user can fix it and press Retry."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

from bot.domain import Job
from bot.errors import EaselError, NeedsConfirmation, OverBudget, QueueFull
from bot.inputs import Limits, Request
from bot.spending import Plan, Spending
from bot.storage import Store
from bot.storage.jobs import PlaceHold


class JobRecords:
    """Stores requests as jobs, within one user's cap of waiting jobs and their budgets."""

    def __init__(self, store: Store, limits: Limits, spending: Spending | None = None) -> None:
        self._store = store
        self.limits = limits
        self.spending = spending

    async def store(
        self,
        request: Request,
        inputs: Sequence[str] = (),
        mask: str | None = None,
        *,
        confirmed: bool = False,
        **lineage: int,
    ) -> Job:
        """The one place a request becomes a stored job, holding its estimated cost; a job the
        budgets refuse (or that needs confirming first) is kept, failed, for Retry."""
        plan: Plan | None = None
        try:
            if self.spending is not None:
                plan = await self.spending.plan(request, len(inputs))
                await self.spending.ask_first(plan, request, confirmed=confirmed)
            hold = plan.place if plan is not None else None
            return await self._create(request, inputs, mask, lineage, hold)
        except (OverBudget, NeedsConfirmation) as exc:
            job = await self._create(request, inputs, mask, lineage, None)
            await self._refused(job, exc)
            if plan is not None and self.spending is not None and isinstance(exc, OverBudget):
                await self.spending.refused(job.id, plan, exc)
            raise

    async def _create(
        self,
        request: Request,
        inputs: Sequence[str],
        mask: str | None,
        lineage: dict[str, int],
        hold: PlaceHold | None,
    ) -> Job:
        return await self._store.create_job(
            kind=request.kind,
            prompt=request.prompt,
            params=request.spec.to_params(),
            user_id=request.user_id,
            origin={**request.origin, **lineage},
            input_images=inputs,
            mask_image=mask,
            parent_job_id=request.parent_job_id,
            session_id=request.session_id,
            hold=hold,
        )

    async def _refused(self, job: Job, exc: EaselError) -> None:
        await self._store.fail_job(job.id, error_code=exc.code, error_message=exc.user_message)
        # The front end answers this one itself: nothing is to post it after a restart.
        await self._store.set_delivery(job.id, {"state": "answered"})
        exc.job_id = job.id

    @contextlib.asynccontextmanager
    async def kept_on_failure(self, request: Request) -> AsyncIterator[None]:
        """Keep a request that can't run, so the user can fix it and retry; one user's waiting
        jobs are capped here, before any input is read or any money spent."""
        try:
            waiting = await self._store.active_jobs_of(request.user_id) if request.user_id else 0
            if waiting >= self.limits.max_queued_per_user:
                raise QueueFull(
                    f"You already have {waiting} images waiting or being made. When one is "
                    "done, press Retry."
                )
            yield
        except EaselError as exc:
            await self._refused(await self._create(request, (), None, {}, None), exc)
            raise
