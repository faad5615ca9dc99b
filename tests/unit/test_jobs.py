"""The queue's scheduling: caps, round-robin fairness, cancel, resume. The service is a stub."""

import asyncio

import pytest

from bot.domain import Job, JobKind, JobResult, JobStatus
from bot.errors import JobCancelled, RouterUnavailable
from bot.jobs import JobQueue, Outcome


class StubStore:
    def __init__(self, jobs=()):
        self.jobs = {j.id: j for j in jobs}
        self.cancelled, self.requeued, self.failed = [], [], []

    async def cancel_job(self, job_id):
        self.cancelled.append(job_id)
        return True

    async def jobs_with_status(self, *statuses):
        return [j for j in self.jobs.values() if j.status in statuses]

    async def requeue_job(self, job_id, worker=None):
        self.requeued.append(job_id)
        old = self.jobs[job_id]
        self.jobs[job_id] = Job(
            id=old.id,
            kind=old.kind,
            prompt=old.prompt,
            params={},
            status=JobStatus.QUEUED,
            user_id=old.user_id,
        )

    async def fail_job(self, job_id, **kwargs):
        self.failed.append(job_id)


class StubService:
    """Runs a job by waiting for the test to release it; records start order and concurrency."""

    def __init__(self, store=None):
        self.store = store or StubStore()
        self.started: list[int] = []
        self.gates: dict[int, asyncio.Event] = {}
        self.active = 0
        self.peak = 0
        self.fail: dict[int, Exception] = {}
        self.worker = "test-worker"
        self.weights: dict[int, int] = {}  # router calls a job makes at once (chat count:n)

    def weight_of(self, job):
        return self.weights.get(job.id, 1)

    async def run(self, job_id):
        self.started.append(job_id)
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await self.gates.setdefault(job_id, asyncio.Event()).wait()
            if job_id in self.fail:
                raise self.fail[job_id]
            job = Job(id=job_id, kind=JobKind.IMAGINE, prompt="p", params={}, status=JobStatus.DONE)
            return JobResult(job=job, images=())
        finally:
            self.active -= 1

    def release(self, *job_ids):
        for job_id in job_ids:
            self.gates.setdefault(job_id, asyncio.Event()).set()


def job(job_id, user):
    return Job(
        id=job_id,
        kind=JobKind.IMAGINE,
        prompt=f"prompt {job_id}",
        params={},
        status=JobStatus.QUEUED,
        user_id=user,
    )


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


async def test_global_and_per_user_caps_and_round_robin():
    service = StubService()
    queue = JobQueue(service, max_concurrent=2, max_per_user=1)
    outcomes: list[Outcome] = []

    async def record(outcome):
        outcomes.append(outcome)

    queue.on_finished(record)
    # alice floods the queue first, then bob and carol ask once each
    for i in range(1, 5):
        await queue.enqueue(job(i, "alice"))
    await queue.enqueue(job(10, "bob"))
    await queue.enqueue(job(20, "carol"))
    await settle()
    assert service.started == [1, 10]  # one each for alice and bob: per-user cap 1, global 2
    assert queue.positions() == {20: 1, 2: 2, 3: 3, 4: 4}
    service.release(1)
    await settle()
    assert service.started[-1] == 20  # carol before alice's second job
    service.release(*range(1, 30))
    await asyncio.wait_for(queue.join(), 5)
    assert service.started == [1, 10, 20, 2, 3, 4]
    assert service.peak <= 2
    assert {o.job_id for o in outcomes} == {1, 2, 3, 4, 10, 20}
    assert all(o.result is not None for o in outcomes)


async def test_twenty_users_at_once_all_served_fairly():
    service = StubService()
    queue = JobQueue(service, max_concurrent=4, max_per_user=2)
    for user in range(20):
        for k in range(3):
            await queue.enqueue(job(user * 10 + k, f"user{user}"))
    await settle()
    service.release(*range(300))
    await asyncio.wait_for(queue.join(), 10)
    assert service.peak <= 4
    assert sorted(service.started) == sorted(u * 10 + k for u in range(20) for k in range(3))
    # Four slots were free when users 0 and 1 arrived; after that, every user's first job
    # starts before anyone's third.
    first_of = {u: service.started.index(u * 10) for u in range(20)}
    third_of = {u: service.started.index(u * 10 + 2) for u in range(20)}
    assert max(first_of.values()) < min(third_of.values())


async def test_cancel_queued_and_running():
    service = StubService()
    queue = JobQueue(service, max_concurrent=1, max_per_user=1)
    outcomes = []

    async def record(outcome):
        outcomes.append(outcome)

    queue.on_finished(record)
    await queue.enqueue(job(1, "a"))
    await queue.enqueue(job(2, "b"))
    await settle()
    assert await queue.cancel(2)  # queued
    assert await queue.cancel(1)  # running
    await asyncio.wait_for(queue.join(), 5)
    assert service.store.cancelled == [2, 1]
    assert all(isinstance(o.error, JobCancelled) for o in outcomes)
    assert not await queue.cancel(99)


async def test_errors_are_outcomes_and_queue_keeps_going():
    service = StubService()
    service.fail = {1: RouterUnavailable(), 2: RuntimeError("bug")}
    queue = JobQueue(service, max_concurrent=1)
    outcomes = []

    async def record(outcome):
        outcomes.append(outcome)

    queue.on_finished(record)
    for i in (1, 2, 3):
        await queue.enqueue(job(i, "a"))
    service.release(1, 2, 3)
    await asyncio.wait_for(queue.join(), 5)
    by_id = {o.job_id: o for o in outcomes}
    assert isinstance(by_id[1].error, RouterUnavailable)
    assert "Something went wrong" in by_id[2].error.user_message
    assert service.store.failed == [2]
    assert by_id[3].result is not None


async def test_resume_requeues_running_and_queued_jobs():
    running = Job(
        id=5, kind=JobKind.IMAGINE, prompt="x", params={}, status=JobStatus.RUNNING, user_id="a"
    )
    store = StubStore(
        [
            running,
            job(6, "b"),
            Job(id=7, kind=JobKind.IMAGINE, prompt="x", params={}, status=JobStatus.DONE),
        ]
    )
    service = StubService(store)
    queue = JobQueue(service, max_concurrent=4)
    resumed = await queue.resume()
    assert sorted(resumed) == [5, 6] and store.requeued == [5]
    service.release(5, 6)
    await asyncio.wait_for(queue.join(), 5)
    assert sorted(service.started) == [5, 6]


async def test_close_leaves_running_jobs_for_resume():
    service = StubService()
    queue = JobQueue(service, max_concurrent=1)
    await queue.enqueue(job(1, "a"))
    await settle()
    await queue.close()
    assert service.store.cancelled == []  # not cancelled: resumable
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(service.gates[1].wait(), 0.01)


async def test_turns_of_one_conversation_run_one_at_a_time_in_order():
    service = StubService()
    queue = JobQueue(service, max_concurrent=4, max_per_user=4)

    def turn(job_id, user, session):
        return Job(
            id=job_id,
            kind=JobKind.REFINE,
            prompt="t",
            params={},
            status=JobStatus.QUEUED,
            user_id=user,
            session_id=session,
        )

    await queue.enqueue(turn(1, "alice", 7))
    await queue.enqueue(turn(2, "bob", 7))  # another user in the same thread
    await queue.enqueue(turn(3, "alice", 7))
    await queue.enqueue(turn(4, "carol", 8))  # another conversation runs alongside
    await settle()
    assert service.started == [1, 4]
    service.release(1)
    await settle()
    assert service.started == [1, 4, 2]
    service.release(2, 4)
    await settle()
    assert service.started == [1, 4, 2, 3]
    service.release(3)
    await asyncio.wait_for(queue.join(), 5)


async def test_a_job_seen_by_resume_and_enqueue_runs_once():
    store = StubStore([job(1, "a")])
    service = StubService(store)
    queue = JobQueue(service, max_concurrent=2)
    await queue.enqueue(job(1, "a"))  # a new command stored it while resume() was reading
    await queue.resume()
    await settle()
    service.release(1)
    await asyncio.wait_for(queue.join(), 5)
    assert service.started == [1]


async def test_a_job_claimed_elsewhere_is_not_reported():
    from bot.errors import JobTaken

    service = StubService()
    service.fail = {1: JobTaken()}
    queue = JobQueue(service, max_concurrent=1)
    outcomes = []

    async def record(outcome):
        outcomes.append(outcome)

    queue.on_finished(record)
    await queue.enqueue(job(1, "a"))
    service.release(1)
    await asyncio.wait_for(queue.join(), 5)
    assert outcomes == []


async def test_a_chat_job_counts_as_its_calls_against_the_cap():
    service = StubService()
    service.weights = {1: 3, 3: 10}
    queue = JobQueue(service, max_concurrent=4, max_per_user=4)
    await queue.enqueue(job(1, "alice"))  # count:3 on a chat model: three calls at once
    await queue.enqueue(job(2, "bob"))
    await queue.enqueue(job(3, "carol"))  # count:10, more than the cap: it takes all of it
    await queue.enqueue(job(4, "dave"))
    await settle()
    assert service.started == [1, 2]  # 3 + 1 calls: full
    service.release(2)
    await settle()
    assert service.started == [1, 2]  # carol's 4-call job waits for room; dave may not pass
    service.release(1)
    await settle()
    assert service.started == [1, 2, 3]
    service.release(3)
    await settle()
    assert service.started == [1, 2, 3, 4]
    service.release(4)
    await asyncio.wait_for(queue.join(), 5)


async def test_resume_leaves_alone_a_job_this_queue_already_runs():
    # Commands are served before on_ready, which resumes: a job started meanwhile must not be
    # put back in the queue (another process could then run it a second time).
    running = job(1, "alice")
    store = StubStore()
    service = StubService(store)
    queue = JobQueue(service, max_concurrent=2, max_per_user=2)
    await queue.enqueue(running)
    await settle()
    store.jobs[1] = Job(
        id=1, kind=JobKind.IMAGINE, prompt="p", params={}, status=JobStatus.RUNNING, user_id="alice"
    )
    await queue.resume()
    assert store.requeued == [] and service.started == [1]
    service.release(1)
    await queue.close()
