"""The queue's bookkeeping stays right as it got cheaper: positions are cached per change of
the waiting order, the round-robin is linear, membership is a set."""

from __future__ import annotations

import asyncio
import random
from collections import deque
from dataclasses import replace

from bot import jobs
from bot.jobs import JobQueue
from tests.unit.test_jobs import StubService, job, settle


def naive_round_robin(queues):
    order, depth = [], max((len(q) for q in queues), default=0)
    for i in range(depth):
        order.extend(q[i] for q in queues if i < len(q))
    return order


def test_the_linear_round_robin_gives_the_same_order_as_rounds():
    rng = random.Random(5)
    for _ in range(200):
        queues = [deque(rng.sample(range(10_000), rng.randint(0, 30))) for _ in range(8)]
        assert jobs._round_robin(queues) == naive_round_robin(queues)


async def test_positions_follow_every_change_and_are_read_from_cache_between():
    service = StubService()
    queue = JobQueue(service, max_concurrent=1, max_per_user=1)
    for i, user in enumerate(["a", "a", "b", "c", "a"], start=1):
        await queue.enqueue(job(i, user))
    await settle()
    assert service.started == [1]
    first = queue.positions()
    assert first == {3: 1, 4: 2, 2: 3, 5: 4}
    assert queue.positions() is first  # nothing changed: no recomputation
    await queue.cancel(4)
    assert queue.positions() == {3: 1, 2: 2, 5: 3}
    service.release(1)
    await settle()
    assert service.started == [1, 3]
    assert queue.positions() == {2: 1, 5: 2}
    await queue.enqueue(job(2, "a"))  # already waiting: not added twice
    assert queue.depth == 3
    await queue.close()


async def test_conversation_turns_still_wait_for_the_turn_before():
    service = StubService()
    queue = JobQueue(service, max_concurrent=4, max_per_user=4)
    for i, user in [(1, "a"), (2, "b"), (3, "a")]:
        await queue.enqueue(replace(job(i, user), session_id=77))
    await settle()
    assert service.started == [1]  # one turn of the thread at a time, in order
    service.release(1)
    await settle()
    assert service.started == [1, 2]
    assert await queue.cancel(3)
    service.release(2)
    await asyncio.wait_for(queue.join(), 5)
    assert service.started == [1, 2]
