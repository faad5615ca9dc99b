"""What a turn of a conversation is sent: the transcript (trimmed to a budget) for a chat model,
the latest or replied-to image with the instructions as words for an images model.

A chat model's stored images are not loaded: the messages carry ``StreamedImage`` references
and the router's body reads each one's cached base64 as it is sent (``bot.storage.encoded``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from bot import conversation
from bot.catalog import ModelInfo
from bot.conversation import Budget, ContextTurn
from bot.domain import ApiFamily, InputImage, Job, Turn, TurnCall
from bot.errors import InputError
from bot.storage import Store


class TurnContexts:
    """Reads a session's turns from the store and builds what the router is sent."""

    def __init__(self, store: Store, budget: Budget) -> None:
        self.store = store
        self.budget = budget

    async def history(self, session_id: int) -> list[ContextTurn]:
        """The session's successful turns up to its head, with their images, oldest first."""
        return await self._load_turns(await self.live_turns(session_id))

    async def build(self, job: Job, model: ModelInfo, inputs: list[InputImage]) -> TurnCall:
        """What to send for the turn ``job``: the latest (or replied-to) image and the new
        inputs for an images model; the trimmed transcript for a chat model."""
        assert job.session_id is not None
        turns = _upto(await self.live_turns(job.session_id), job.origin.get("base_job"))
        if model.family is ApiFamily.IMAGES:
            base = await self._base_image(job, turns)
            images_in = ([base] if base else []) + inputs
            if not images_in:
                raise InputError("There's no image in this conversation yet to refine.")
            earlier = [t.text or "" for t in turns if t.role == "user"]
            prompt, warnings = conversation.instruction_history(earlier, job.prompt, self.budget)
            return TurnCall(images=images_in[: model.max_inputs], prompt=prompt, warnings=warnings)
        # Trim on the sizes the store records, so images that won't be sent aren't loaded.
        sizes = [(t.role, await self._image_bytes(t.images)) for t in turns]
        sizes.append(("user", sum(len(i.data) for i in inputs)))
        skip = min(conversation.drop_count(sizes, self.budget), len(turns))
        history = await self._streamed_turns(turns[skip:])
        built = await asyncio.to_thread(
            conversation.build, history, job.prompt, inputs, self.budget, skip
        )
        return TurnCall(messages=built.messages, warnings=built.warnings)

    async def _base_image(self, job: Job, turns: Sequence[Turn]) -> InputImage | None:
        pointed = job.origin.get("base_job")
        if pointed is not None:  # the user replied to an earlier version in the thread
            source = await self.store.get_job(int(pointed))
            if source is not None and source.result_images:
                return await self.store.input_image(source.result_images[0])
        latest = next((t for t in reversed(turns) if t.images), None)
        return await self.store.input_image(latest.images[-1]) if latest else None

    async def live_turns(self, session_id: int) -> list[Turn]:
        session = await self.store.get_session(session_id)
        turns = [t for t in await self.store.turns(session_id) if t.status == "ok"]
        if session is not None and session.head_turn_id is not None:
            # A revert makes an older result the base: the conversation continues from there.
            head = next((i for i, t in enumerate(turns) if t.id == session.head_turn_id), None)
            if head is not None:
                turns = turns[: head + 1]
        return turns

    async def _load_turns(self, turns: Sequence[Turn]) -> list[ContextTurn]:
        return [
            ContextTurn(
                t.role,
                t.text,
                tuple([await self.store.input_image(h) for h in t.images]),
                t.reasoning_details,
            )
            for t in turns
        ]

    async def _streamed_turns(self, turns: Sequence[Turn]) -> list[ContextTurn]:
        """The turns with their images as references to their base64 caches (made now where
        missing): the router's body streams them, and no image is loaded here."""
        return [
            ContextTurn(
                t.role,
                t.text,
                tuple([await self.store.streamed_image(h) for h in t.images]),
                t.reasoning_details,
            )
            for t in turns
        ]

    async def _image_bytes(self, hashes: Sequence[str]) -> int:
        infos = [await self.store.image_info(h) for h in hashes]
        return sum(info.size for info in infos if info is not None)


def _upto(turns: list[Turn], pointed: Any) -> list[Turn]:
    """A reply to an earlier version continues from that version, as a revert would, for this
    turn only; a version that isn't in the conversation changes nothing."""
    if pointed is None:
        return turns
    at = next(
        (i for i, t in enumerate(turns) if t.role == "assistant" and t.job_id == int(pointed)),
        None,
    )
    return turns if at is None else turns[: at + 1]
