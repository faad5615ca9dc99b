"""Progress in a busy channel, through the fake Discord: one loop edits every job's response,
each job gets its turn, and no progress edit lands after a job's result."""

from __future__ import annotations

from tests.e2e.conftest import outcome
from tests.fakes.router import Fault

PROGRESS = ("Waiting to start", "Generating with")


async def test_every_job_in_a_busy_channel_shows_progress_and_then_only_its_result(
    easel, world, router
):
    fake, _guild, channel, alice, bob = world
    await easel.restart(max_concurrent_jobs=1)
    router.add_fault(Fault(kind="latency", seconds=1.5, times=6))
    handles = []
    for index in range(6):
        user = alice if index % 2 else bob
        handles.append(await fake.slash(user, channel, "imagine", {"prompt": f"busy {index}"}))
    for handle in handles:
        await outcome(fake, handle, timeout=90)
    await easel.idle()
    for index, handle in enumerate(handles):
        message = handle.original_message
        earlier = [edit.get("content") or "" for edit in message.edits]
        assert any(word in text for text in earlier for word in PROGRESS), (index, earlier)
        assert message.attachments, index  # the result, and no progress over it afterwards
        assert not any(word in (message.content or "") for word in PROGRESS), message.content
