"""The job queue: jobs are stored before they run, started fairly between users under a global
and a per-user cap, and resumed after a restart.

The next job goes to the waiting user served least recently (each user's own jobs first-in
first-out), so one user with ten jobs cannot starve nine users with one each. The store is the truth; the queue is rebuilt
from it at start.

With a memory budget (``MAX_IMAGE_MEMORY_MB``) each job is weighed by the image bytes it will
need (``ImageService.memory_of``) and holds them from its start until its outcome is delivered;
the job due waits until they fit (one job alone always starts), as it waits for router calls.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.domain import Job, JobResult, JobStatus
from bot.errors import EaselError, JobCancelled, JobTaken
from bot.memory import Reservations

if TYPE_CHECKING:
    from bot.service import ImageService

log = logging.getLogger(__name__)

ANON = "-"


@dataclass(frozen=True)
class Outcome:
    """How a job ended: a result or an error, never both."""

    job_id: int
    result: JobResult | None = None
    error: EaselError | None = None


Listener = Callable[[Outcome], Awaitable[None]]


class JobQueue:
    """Schedules stored jobs onto at most ``max_concurrent`` runners, whose images fit in
    ``memory_budget`` bytes (None: no budget)."""

    def __init__(
        self,
        service: ImageService,
        *,
        max_concurrent: int = 4,
        max_per_user: int = 2,
        memory_budget: int | None = None,
    ) -> None:
        self.service = service
        self.max_concurrent = max_concurrent
        self.max_per_user = max_per_user
        self.memory = Reservations(memory_budget)
        self._need: dict[int, int] = {}  # waiting job id -> image bytes it will hold
        self._waiting: OrderedDict[str, deque[int]] = OrderedDict()  # user -> ids, in turn order
        self._running: dict[int, tuple[str, asyncio.Task[None]]] = {}
        self._cancelled: set[int] = set()
        self._delivering: dict[int, asyncio.Task[None]] = {}  # listeners still posting the outcome
        self._queued: set[int] = set()  # every waiting job id, for O(1) membership
        self._session_of: dict[int, int] = {}  # job id -> conversation, for turn order
        self._session_waiting: dict[int, set[int]] = {}  # conversation -> its waiting jobs
        self._weight: dict[int, int] = {}  # job id -> router calls it makes at once
        self._served: dict[str, int] = {}  # user -> tick of their last start, for fairness
        self._tick = 0
        self._finished_listeners: list[Listener] = []
        self._closed = False
        self._changed = asyncio.Event()  # set whenever a job leaves the queue
        # positions() is read by every waiting job's progress ticker: computed once per change
        # of the waiting order (a job added, started or cancelled), not once per read.
        self._order_version = 0
        self._positions: tuple[int, dict[int, int]] = (-1, {})

    # -- wiring -----------------------------------------------------------------------------
    def on_finished(self, listener: Listener) -> None:
        self._finished_listeners.append(listener)

    # -- public operations ------------------------------------------------------------------
    async def enqueue(self, job: Job) -> int:
        """Add a stored, queued job; returns its position (0 = starting now)."""
        self._add(job)
        self._schedule()
        return self.positions().get(job.id, 0)

    async def resume(self) -> list[int]:
        """Requeue what a previous process left queued or running; returns the job ids."""
        store = self.service.store
        for job in await store.jobs_with_status(JobStatus.RUNNING):
            # Only this worker's own: another live process may be running the rest. And not
            # one this queue already runs: commands are served before on_ready (which calls
            # this), and requeuing a running job would let another process run it again.
            if job.id not in self._running:
                await store.requeue_job(job.id, worker=self.service.worker)
        jobs = await store.jobs_with_status(JobStatus.QUEUED)
        for job in jobs:
            self._add(job)
        if jobs:
            log.info("resuming %d job(s): %s", len(jobs), [j.id for j in jobs])
        self._schedule()
        return [j.id for j in jobs]

    def _add(self, job: Job) -> None:
        # resume() and a new command can both see the same freshly stored job at start-up.
        if job.id in self._running or job.id in self._delivering or job.id in self._queued:
            return
        self._waiting.setdefault(job.user_id or ANON, deque()).append(job.id)
        self._queued.add(job.id)
        self._order_version += 1
        if job.session_id is not None:
            self._session_of[job.id] = job.session_id
            self._session_waiting.setdefault(job.session_id, set()).add(job.id)
        self._weight[job.id] = min(self.max_concurrent, self.service.weight_of(job))
        if self.memory.budget is not None:
            self._need[job.id] = self.service.memory_of(job)

    async def cancel(self, job_id: int) -> bool:
        """Cancel a queued or running job; False if it already finished."""
        waiting = self._waiting.items() if job_id in self._queued else ()
        for user, ids in waiting:
            if job_id in ids:
                ids.remove(job_id)
                if not ids:
                    del self._waiting[user]
                self._unqueue(job_id)
                self._session_of.pop(job_id, None)
                self._weight.pop(job_id, None)
                self._need.pop(job_id, None)
                await self.service.store.cancel_job(job_id)
                self._changed.set()
                await self._notify(Outcome(job_id, error=JobCancelled()))
                return True
        if job_id in self._running:
            self._cancelled.add(job_id)
            self._running[job_id][1].cancel()
            return True
        return False

    def positions(self) -> dict[int, int]:
        """Queued job id -> how many jobs start before it (1 = next). Don't change the dict."""
        version, cached = self._positions
        if version != self._order_version:
            order = _round_robin([self._waiting[user] for user in self._turn_order()])
            cached = {job_id: index + 1 for index, job_id in enumerate(order)}
            self._positions = (self._order_version, cached)
        return cached

    def _unqueue(self, job_id: int) -> None:
        """Forget a job that left the waiting line (started or cancelled)."""
        self._queued.discard(job_id)
        self._order_version += 1
        session = self._session_of.get(job_id)
        if session is not None and (waiting := self._session_waiting.get(session)) is not None:
            waiting.discard(job_id)
            if not waiting:
                del self._session_waiting[session]

    @property
    def depth(self) -> int:
        return len(self._queued) + len(self._running) + len(self._delivering)

    def running(self) -> list[int]:
        return list(self._running)

    async def close(self, grace: float = 10.0) -> None:
        """Stop runners (their jobs stay RUNNING and are resumed at next start); let results
        that are already being posted finish, for at most ``grace`` seconds."""
        self._closed = True
        running = [task for _user, task in self._running.values()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        posting = list(self._delivering.values())
        if posting:
            _done, late = await asyncio.wait(posting, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def join(self) -> None:
        """Wait until nothing is queued or running; callers bound it with a timeout."""
        while self.depth:
            self._changed.clear()
            await self._changed.wait()

    # -- scheduling -------------------------------------------------------------------------
    def _schedule(self) -> None:
        while not self._closed:
            used = sum(self._weight.get(job_id, 1) for job_id in self._running)
            picked = self._pick(self.max_concurrent - used)
            if picked is None:
                return
            user, job_id = picked
            self.memory.hold(job_id, self._need.pop(job_id, 0))
            task = asyncio.create_task(self._run(job_id), name=f"easel-job-{job_id}")
            self._running[job_id] = (user, task)

    def _pick(self, free: int) -> tuple[str, int] | None:
        """The next job fairly due, if its router calls fit in ``free`` (a chat job asking for
        ``n`` images makes ``n`` calls); the one due waits for room rather than be passed by."""
        busy: dict[str, int] = {}
        for user, _task in self._running.values():
            busy[user] = busy.get(user, 0) + 1
        for user in self._turn_order():
            if busy.get(user, 0) >= self.max_per_user:
                continue
            ids = self._waiting[user]
            if not self._session_free(ids[0]):
                continue
            if self._weight.get(ids[0], 1) > free or not self._fits(ids[0]):
                return None
            job_id = ids.popleft()
            self._unqueue(job_id)
            if not ids:
                del self._waiting[user]
            self._tick += 1
            self._served[user] = self._tick
            return user, job_id
        return None

    def _fits(self, job_id: int) -> bool:
        return self.memory.fits(self._need.get(job_id, 0))

    def _session_free(self, job_id: int) -> bool:
        """A conversation's turns run one at a time, in the order they were sent, so each
        turn sees the result of the one before."""
        session = self._session_of.get(job_id)
        if session is None:
            return True
        if any(self._session_of.get(running) == session for running in self._running):
            return False
        return job_id == min(self._session_waiting.get(session) or {job_id})

    def _turn_order(self) -> list[str]:
        """Waiting users, least recently served first (never served counts as longest ago)."""
        return sorted(self._waiting, key=lambda user: self._served.get(user, 0))

    async def _run(self, job_id: int) -> None:
        outcome: Outcome
        try:
            outcome = Outcome(job_id, result=await self.service.run(job_id))
        except asyncio.CancelledError:
            if job_id not in self._cancelled:
                self._running.pop(job_id, None)
                raise  # shutdown: the job stays RUNNING and is resumed later
            await self.service.store.cancel_job(job_id)
            outcome = Outcome(job_id, error=JobCancelled())
        except JobTaken:
            self._running.pop(job_id, None)  # another worker has it: not ours to report
            self._session_of.pop(job_id, None)
            self._weight.pop(job_id, None)
            self._changed.set()
            return
        except EaselError as exc:
            outcome = Outcome(job_id, error=exc)
        except Exception:  # a bug must not kill the queue; the job is failed, not lost
            log.exception("job %s: unexpected error", job_id)
            error = EaselError("Something went wrong on our side. Try again.")
            await self.service.store.fail_job(
                job_id, error_code="internal", error_message=error.user_message
            )
            outcome = Outcome(job_id, error=error)
        finally:
            entry = self._running.pop(job_id, None)
            self._session_of.pop(job_id, None)
            self._weight.pop(job_id, None)
            if entry is not None:
                self._delivering[job_id] = entry[1]
            else:  # nothing to deliver: its images are gone with it
                self.memory.release(job_id)
            self._cancelled.discard(job_id)
            self._schedule()
        try:
            await self._notify(outcome)
        finally:
            # The listeners are done with the outcome's images: their bytes may go to the next.
            del outcome
            self._delivering.pop(job_id, None)
            if self.memory.release(job_id):
                self._schedule()
            self._changed.set()

    async def _notify(self, outcome: Outcome) -> None:
        for listener in self._finished_listeners:
            try:
                await listener(outcome)
            except Exception:
                log.exception("job %s: delivery failed", outcome.job_id)


def _round_robin(queues: list[deque[int]]) -> list[int]:
    """The order queued jobs will start in, one per user per round: O(jobs), however uneven
    the queues (each round walks only the users who still have a job in it)."""
    order: list[int] = []
    live = [iter(q) for q in queues]
    while live:
        still = []
        for jobs in live:
            job_id = next(jobs, None)
            if job_id is not None:
                order.append(job_id)
                still.append(jobs)
        live = still
    return order
