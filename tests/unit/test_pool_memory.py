"""A worker's job loop (``python -m bot worker``) keeps the gateway queue's limits: a job takes the
slots of its router calls and holds its image memory until delivered; the job claimed first is
never passed by a later one; one job alone always runs. Jobs are claimed from a real store."""

import asyncio

import pytest

from bot import memory
from bot.domain import JobKind
from bot.pool import WorkerPool
from bot.storage import Store

MB = memory.MIB


@pytest.fixture
async def store(tmp_path):
    async with await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'e.db'}", tmp_path) as store:
        yield store


class Service:
    """What the pool asks of ``ImageService``, each job held by a gate until the test opens it;
    jobs are named by their prompt."""

    worker = "w1"

    def __init__(self, store, needs=None, weights=None):
        self.store, self.needs, self.weights = store, needs or {}, weights or {}
        self.started, self.gates = [], {}

    def memory_of(self, job):
        return self.needs.get(job.prompt, 0)

    def weight_of(self, job):
        return self.weights.get(job.prompt, 1)

    def gate(self, name):
        return self.gates.setdefault(name, asyncio.Event())

    async def run(self, job_id, claimed):
        self.started.append(claimed.prompt)
        await self.gate(claimed.prompt).wait()
        return claimed.prompt


async def queued(store, *names):
    for index, name in enumerate(names):
        await store.create_job(
            kind=JobKind.IMAGINE, prompt=name, params={"model": "m"}, user_id=f"u{index}", origin={}
        )


async def settle(pool, seconds=0.3):
    """Time for what should not happen (a job that must wait starting anyway)."""
    pool._wake.set()
    await asyncio.sleep(seconds)


async def until(check, timeout=10.0):
    """What should happen, waited for (bounded)."""
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


@pytest.fixture
async def running():
    tasks = []

    def start(pool):
        tasks.append(asyncio.create_task(pool.run_forever()))

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def gated_delivery(pool):
    delivered, gates = [], {}

    async def deliver(outcome):
        await gates.setdefault(outcome.result, asyncio.Event()).wait()
        delivered.append(outcome.result)

    pool.on_finished(deliver)
    return delivered, gates


async def test_a_job_waits_for_memory_held_until_the_one_before_is_delivered(store, running):
    service = Service(store, needs={"a": 60 * MB, "b": 60 * MB, "c": 30 * MB})
    pool = WorkerPool(service, slots=4, max_per_user=4, poll=0.05, memory_budget=100 * MB)
    delivered, gates = gated_delivery(pool)
    await queued(store, "a", "b", "c")
    running(pool)
    await until(lambda: service.started)
    await settle(pool)
    assert service.started == ["a"]  # b doesn't fit beside a; c, which would, doesn't pass it
    assert pool.memory.used == 60 * MB
    service.gate("a").set()  # a's router call is done, its result not yet posted: still held
    await settle(pool)
    assert service.started == ["a"] and pool.memory.used == 60 * MB
    gates.setdefault("a", asyncio.Event()).set()
    await until(lambda: service.started == ["a", "b", "c"])  # 60 + 30 fit in 100
    assert delivered == ["a"]
    assert pool.memory.used == 90 * MB
    for name in ("b", "c"):
        service.gate(name).set()
        gates.setdefault(name, asyncio.Event()).set()
    await until(lambda: pool.memory.used == 0 and pool.running() == [])


async def test_a_job_bigger_than_the_budget_runs_alone(store, running):
    service = Service(store, needs={"big": 500 * MB, "small": 1 * MB})
    pool = WorkerPool(service, slots=4, max_per_user=4, poll=0.05, memory_budget=100 * MB)
    await queued(store, "big", "small")
    running(pool)
    await until(lambda: service.started)
    await settle(pool)
    assert service.started == ["big"]
    service.gate("big").set()
    await until(lambda: service.started == ["big", "small"])
    service.gate("small").set()
    await until(lambda: pool.memory.used == 0)


async def test_a_fan_out_job_takes_the_slots_of_its_router_calls(store, running):
    service = Service(store, weights={"four": 3, "next": 2})
    pool = WorkerPool(service, slots=4, max_per_user=4, poll=0.05)
    await queued(store, "four", "next")
    running(pool)
    await until(lambda: service.started)
    await settle(pool)
    assert service.started == ["four"]  # 3 of 4 slots used: the next job's 2 calls wait
    service.gate("four").set()
    await until(lambda: service.started == ["four", "next"])
    service.gate("next").set()
    await until(lambda: pool.running() == [])


async def test_a_job_being_delivered_frees_its_slot_for_the_next(store, running):
    service = Service(store)
    pool = WorkerPool(service, slots=1, max_per_user=4, poll=0.05)
    delivered, gates = gated_delivery(pool)
    await queued(store, "first", "second")
    running(pool)
    await until(lambda: service.started)
    await settle(pool)
    assert service.started == ["first"]
    service.gate("first").set()  # its router call is done; its result is still being posted
    await until(lambda: service.started == ["first", "second"])
    assert delivered == []
    for name in ("first", "second"):
        service.gate(name).set()
        gates.setdefault(name, asyncio.Event()).set()
    await until(lambda: delivered == ["first", "second"] and pool.running() == [])
