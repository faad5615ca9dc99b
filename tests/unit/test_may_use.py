"""Who may build on an earlier result (Retry, Remix, Retry missing, a reply to a version): its
owner always; anyone else only when it is public, in their server, in a channel they see."""

from __future__ import annotations

import pytest

from bot.domain import Job, JobKind, JobStatus
from bot.errors import NotAllowed
from bot.inputs import check_may_use


def job(**origin) -> Job:
    return Job(
        1, JobKind.IMAGINE, "p", {"model": "m"}, JobStatus.DONE, user_id="alice", origin=origin
    )


def test_the_owner_may_always() -> None:
    check_may_use(job(private=True, guild_id="g1"), "alice", {"guild_id": "g2"})


def test_anyone_in_the_server_may_use_a_public_result() -> None:
    check_may_use(job(private=False, guild_id="g1"), "bob", {"guild_id": "g1"})


@pytest.mark.parametrize(
    ("origin", "theirs", "words"),
    [
        ({"private": True, "guild_id": "g1"}, {"guild_id": "g1"}, "private"),
        ({"private": False, "guild_id": "g1"}, {"guild_id": "g2"}, "another server"),
        ({"private": False, "guild_id": "g1"}, None, "another server"),
    ],
)
def test_others_are_refused(origin, theirs, words) -> None:
    with pytest.raises(NotAllowed, match=words):
        check_may_use(job(**origin), "bob", theirs)


def test_a_missing_result_is_refused() -> None:
    with pytest.raises(NotAllowed):
        check_may_use(None, "bob", {})


def test_a_public_result_needs_its_channel_to_be_visible_to_the_actor() -> None:
    result = job(private=False, guild_id="g1", channel_id="hidden")
    with pytest.raises(NotAllowed, match="channel you can't see"):
        check_may_use(result, "bob", {"guild_id": "g1", "channel_id": "c2"}, lambda c: False)
    check_may_use(result, "bob", {"guild_id": "g1", "channel_id": "c2"}, lambda c: c == "hidden")
    # In the result's own channel the actor plainly sees it; the owner is never asked.
    check_may_use(result, "bob", {"guild_id": "g1", "channel_id": "hidden"}, lambda c: False)
    check_may_use(result, "alice", {"guild_id": "g1", "channel_id": "c2"}, lambda c: False)
