"""The queue's memory budget: a job starts when its images fit beside those of the jobs started
and not yet delivered; one job alone always starts; the job due is never passed by."""

import asyncio

import pytest

from bot import memory
from bot.calls import Calls
from bot.catalog import Catalog
from bot.config import load_settings
from bot.domain import ImageSpec, Job, JobKind, JobStatus
from bot.errors import ConfigError, JobTaken
from bot.jobs import JobQueue, Outcome
from tests.unit.test_jobs import StubService, job, settle

MB = memory.MIB


class WeighedService(StubService):
    """The stub service, with each job's image bytes set by the test."""

    def __init__(self, needs):
        super().__init__()
        self.needs = needs

    def memory_of(self, job):
        return self.needs.get(job.id, 0)


def gated_listener(queue):
    """A delivery that takes until the test lets it finish; returns (delivered, gates)."""
    delivered, gates = [], {}

    async def deliver(outcome: Outcome) -> None:
        await gates.setdefault(outcome.job_id, asyncio.Event()).wait()
        delivered.append(outcome.job_id)

    queue.on_finished(deliver)
    return delivered, gates


def let_deliver(gates, job_id):
    gates.setdefault(job_id, asyncio.Event()).set()


async def test_a_job_waits_for_memory_held_until_the_job_before_is_delivered():
    service = WeighedService({1: 60 * MB, 2: 60 * MB, 3: 30 * MB})
    queue = JobQueue(service, max_concurrent=4, max_per_user=4, memory_budget=100 * MB)
    delivered, gates = gated_listener(queue)
    for i, user in [(1, "a"), (2, "b"), (3, "c")]:
        await queue.enqueue(job(i, user))
    await settle()
    # Router calls to spare, but 1 and 2 don't fit together: 2 waits, and 3 (which would fit)
    # doesn't pass it.
    assert service.started == [1]
    assert queue.memory.used == 60 * MB
    assert queue.positions() == {2: 1, 3: 2}
    service.release(1)
    await settle()
    # Run, but its images are still being posted: they still count.
    assert service.started == [1] and queue.running() == []
    assert queue.memory.used == 60 * MB
    let_deliver(gates, 1)
    await settle()
    assert delivered == [1]
    assert service.started == [1, 2, 3]  # 60 + 30 fit in 100
    assert queue.memory.used == 90 * MB
    for i in (2, 3):
        service.release(i)
        let_deliver(gates, i)
    await asyncio.wait_for(queue.join(), 5)
    assert queue.memory.used == 0
    await queue.close()


async def test_a_job_bigger_than_the_budget_runs_alone():
    service = WeighedService({1: 10 * MB, 2: 500 * MB, 3: 10 * MB})
    queue = JobQueue(service, max_concurrent=4, max_per_user=4, memory_budget=100 * MB)
    for i, user in [(1, "a"), (2, "b"), (3, "c")]:
        await queue.enqueue(job(i, user))
    await settle()
    assert service.started == [1]  # 2 is due but won't fit beside 1
    service.release(1)
    await settle()
    assert service.started == [1, 2]  # alone, however big: nothing waits forever
    assert queue.memory.used == 500 * MB
    assert queue.positions() == {3: 1}  # and nothing starts beside it
    service.release(2)
    await settle()
    assert service.started == [1, 2, 3]
    service.release(3)
    await asyncio.wait_for(queue.join(), 5)
    assert service.peak == 1
    await queue.close()


async def test_memory_comes_back_from_cancelled_failed_and_taken_jobs():
    service = WeighedService({1: 80 * MB, 2: 80 * MB, 3: 80 * MB, 4: 80 * MB})
    service.fail[2] = JobTaken()
    queue = JobQueue(service, max_concurrent=4, max_per_user=4, memory_budget=100 * MB)
    outcomes: list[Outcome] = []

    async def record(outcome: Outcome) -> None:
        outcomes.append(outcome)

    queue.on_finished(record)
    for i, user in [(1, "a"), (2, "b"), (3, "c"), (4, "d")]:
        await queue.enqueue(job(i, user))
    await settle()
    assert service.started == [1]
    assert await queue.cancel(4)  # waiting: forgotten, nothing was held
    assert await queue.cancel(1)  # running: its memory comes back once the cancel is told
    await settle()
    assert service.started == [1, 2]
    service.release(2)  # another worker took it: nothing to deliver, memory back at once
    await settle()
    assert service.started == [1, 2, 3]
    service.release(3)
    await asyncio.wait_for(queue.join(), 5)
    assert [o.job_id for o in outcomes] == [4, 1, 3]
    assert queue.memory.used == 0
    await queue.close()


async def test_without_a_budget_jobs_are_not_weighed():
    service = StubService()  # no memory_of at all: never asked
    queue = JobQueue(service, max_concurrent=2, max_per_user=2)
    for i in (1, 2):
        await queue.enqueue(job(i, "a"))
    await settle()
    assert service.started == [1, 2]
    service.release(1, 2)
    await asyncio.wait_for(queue.join(), 5)
    assert queue.memory.budget is None and queue.memory.used == 0
    await queue.close()


def weigh(spec: ImageSpec, kind=JobKind.IMAGINE, origin=None) -> int:
    calls = Calls(None, None, Catalog.load(), None)  # weighing reads the catalog only
    return calls.memory_of(
        Job(1, kind, "p", spec.to_params(), JobStatus.QUEUED, origin=origin or {})
    )


def test_jobs_are_weighed_by_the_pixels_they_ask_for():
    gemini = "vertex/google/gemini-3-pro-image-preview"
    four_k = weigh(ImageSpec(model=gemini, aspect_ratio="16:9", resolution="4K"))
    assert four_k == 5504 * 3072 * memory.BYTES_PER_PIXEL
    one_k = weigh(ImageSpec(model=gemini, aspect_ratio="16:9"))
    assert one_k == 1376 * 768 * memory.BYTES_PER_PIXEL
    # A chat model's count:3 is three answers (the fan-out counted, as for router calls).
    assert weigh(ImageSpec(model=gemini, n=3, resolution="4K", aspect_ratio="16:9")) == 3 * four_k
    gpt = "openai/gpt-image-1"
    assert weigh(ImageSpec(model=gpt, size="1024x1024", n=2)) == 2 * 1024 * 1024 * 6
    assert weigh(ImageSpec(model=gpt, size="auto")) == memory.IMAGES_PIXELS * 6
    upscale = weigh(ImageSpec(model=gpt, size="1024x1024"), JobKind.EDIT, {"resample": 2})
    assert upscale == 4 * 1024 * 1024 * 6
    assert weigh(ImageSpec(model=gemini), JobKind.DESCRIBE) == 0
    compare = weigh(ImageSpec(model=gemini, models=(gemini, gpt), aspect_ratio="1:1"))
    assert compare == 2 * (1024 * 1024 + memory.IMAGES_PIXELS) * 6  # originals and the grid


def test_the_default_budget_is_a_quarter_of_memory_with_a_floor(tmp_path, monkeypatch):
    assert memory.default_image_memory_mb(16 * 1024 * MB) == 4096
    assert memory.default_image_memory_mb(512 * MB) == memory.FLOOR_MB
    limit = tmp_path / "memory.max"
    limit.write_text(f"{2 * 1024 * MB}\n")  # a container limited to 2 GiB
    monkeypatch.setattr(memory, "CGROUP_LIMITS", (limit, tmp_path / "absent"))
    assert memory.physical_memory() == 2 * 1024 * MB
    assert load_settings(_env_file=None).max_image_memory_mb == 512
    limit.write_text("max\n")  # no limit: the machine's memory
    assert memory.physical_memory() == memory._machine_memory()


@pytest.mark.parametrize("value", ["10", "lots", "-1"])
def test_max_image_memory_mb_is_validated(monkeypatch, value):
    monkeypatch.setenv("MAX_IMAGE_MEMORY_MB", value)
    with pytest.raises(ConfigError, match="MAX_IMAGE_MEMORY_MB is invalid"):
        load_settings(_env_file=None)


def test_max_image_memory_mb_is_read(monkeypatch):
    monkeypatch.setenv("MAX_IMAGE_MEMORY_MB", "768")
    assert load_settings(_env_file=None).max_image_memory_mb == 768
