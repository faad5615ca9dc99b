"""A worker's job loop (``python -m bot worker``): take jobs from the shared store, run them,
hand each outcome to the listeners (the REST delivery), and take over dead workers' jobs.

No scheduling in memory: every claim asks the store for the fairest job across all processes
(``Store.claim_next``), so fairness between users holds however many workers run. A worker
killed mid-job leaves it ``running`` under its WORKER_ID; once that lease is stale, any live
worker queues it again (``Store.requeue_orphans``) and one of them runs and posts it. The
router may be asked again for it (at least once); the post stays exactly once (the delivery's
compare-and-set).

As in the gateway's queue, a job takes as many of the ``slots`` as router calls it makes at once
(chat fan-out), and holds its image memory (``MAX_IMAGE_MEMORY_MB``) from its start until its
outcome is delivered: the worker claims no more while either is used up, and a claimed job that
doesn't fit waits here for what running ones give back (one job alone always runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.domain import Job, JobStatus
from bot.errors import EaselError
from bot.jobs import Listener, Outcome
from bot.memory import Reservations
from bot.service import ImageService

log = logging.getLogger(__name__)


class WorkerPool:
    """Runs up to ``slots`` jobs at once from the store; looks for more every ``poll`` s."""

    def __init__(
        self,
        service: ImageService,
        *,
        slots: int,
        max_per_user: int,
        poll: float = 1.0,
        stale_after: float = 60.0,
        memory_budget: int | None = None,
    ) -> None:
        self.service = service
        self.slots = slots
        self.max_per_user = max_per_user
        self.poll = poll
        self.stale_after = stale_after
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._weight: dict[int, int] = {}  # job id -> slots it takes (its router calls at once)
        self.memory = Reservations(memory_budget)
        self._started: set[int] = set()  # claimed jobs in their router calls: they hold slots
        self._waiting: set[int] = set()  # claimed jobs waiting for room
        self._freed = asyncio.Event()
        self._listeners: list[Listener] = []
        self._wake = asyncio.Event()

    def on_finished(self, listener: Listener) -> None:
        self._listeners.append(listener)

    @property
    def depth(self) -> int:
        return 0  # nothing waits in this process: the queue is the store

    def running(self) -> list[int]:
        return sorted(self._tasks)

    def positions(self) -> dict[int, int]:
        """Nothing waits in this process, so no job has a place in line here."""
        return {}

    async def run_forever(self) -> None:
        """Claim and run until cancelled; a failing store is logged and tried again."""
        loop = asyncio.get_running_loop()
        next_takeover = 0.0
        while True:
            try:
                if loop.time() >= next_takeover:
                    next_takeover = loop.time() + self.stale_after / 4
                    taken = await self.service.store.requeue_orphans(self.stale_after)
                    if taken:
                        log.warning("took over job(s) %s from a worker that stopped", taken)
                await self._fill()
            except EaselError as exc:
                log.warning("could not take jobs from the store: %s", exc)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll)

    def _full(self) -> bool:
        """No claim now: slots or memory used up, or a claimed job still waits for room (the
        job due is never passed by a later one). A job being delivered holds no slot."""
        if self._waiting or sum(self._weight.values()) >= self.slots:
            return True
        return self.memory.budget is not None and not self.memory.fits(1)

    async def _fill(self) -> None:
        while not self._full():
            job = await self.service.store.claim_next(self.service.worker, self.max_per_user)
            if job is None:
                return
            self._weight[job.id] = min(self.slots, self.service.weight_of(job))
            self._waiting.add(job.id)  # until its task found room: claim nothing after it
            self._tasks[job.id] = asyncio.create_task(self._run(job.id, job), name=f"job-{job.id}")

    async def _room(self, job: Job) -> None:
        """Wait until the claimed job's slots and memory fit beside the started ones; hold them."""
        need = self.service.memory_of(job) if self.memory.budget is not None else 0
        try:
            while not self._fits(job.id, need):
                self._freed.clear()
                await self._freed.wait()
        finally:
            self._waiting.discard(job.id)
        self.memory.hold(job.id, need)
        self._started.add(job.id)
        self._wake.set()  # started: the loop may claim the next

    def _fits(self, job_id: int, need: int) -> bool:
        used = sum(self._weight[other] for other in self._started)
        return used + self._weight[job_id] <= self.slots and self.memory.fits(need)

    async def _run(self, job_id: int, job: Job) -> None:
        try:
            await self._room(job)
            outcome = await self._outcome(job_id, job)
            self._started.discard(job_id)  # its slots are free once the router answered,
            self._weight.pop(job_id, None)  # its memory once the outcome is delivered
            self._free()
            for listener in self._listeners:
                try:
                    await listener(outcome)
                except Exception:
                    log.exception("job %s: delivery failed", job_id)
        finally:  # delivered, or shutdown (the job stays running, resumed or taken over)
            self._tasks.pop(job_id, None)
            self._weight.pop(job_id, None)
            self._started.discard(job_id)
            self.memory.release(job_id)  # the outcome's images are posted: memory is free
            self._free()

    async def _outcome(self, job_id: int, job: Job) -> Outcome:
        try:
            return Outcome(job_id, result=await self.service.run(job_id, claimed=job))
        except EaselError as exc:  # JobCancelled included
            return Outcome(job_id, error=exc)
        except Exception:  # a bug must not stop the worker; the job is failed, not lost
            log.exception("job %s: unexpected error", job_id)
            error = EaselError("Something went wrong on our side. Try again.")
            await self.service.store.fail_job(
                job_id, error_code="internal", error_message=error.user_message
            )
            return Outcome(job_id, error=error)

    def _free(self) -> None:
        self._freed.set()  # claimed jobs waiting for room look again
        self._wake.set()  # and the loop may claim more

    async def resume(self) -> list[int]:
        """This WORKER_ID's jobs left running by its previous process go back to the queue."""
        store = self.service.store
        running = await store.jobs_with_status(JobStatus.RUNNING)
        mine = [j.id for j in running if j.claimed_by == self.service.worker]
        for job_id in mine:
            await store.requeue_job(job_id, worker=self.service.worker)
        return mine

    async def join(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def close(self, grace: float = 10.0) -> None:
        """Stop: running jobs are cancelled and stay ``running`` for this id or a takeover."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
