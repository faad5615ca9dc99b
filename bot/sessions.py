"""Conversations: a refine thread's session and its turns, owned here and nowhere else.

Opening a session (and choosing the model a thread runs on), branching, reverting, adopting
turns rebuilt from Discord, building the context for the next turn and recording a turn's
result all live in this module; the cogs hand it plain ids, prompts and bytes.

Every version number comes from one rule (``_next_version``): one more than the highest
version the session already holds, so branches and rebuilt threads number like the original.
Only a successful turn is recorded, so a failure never pollutes the conversation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from bot import conversation, fitting, images
from bot.catalog import Catalog, ModelInfo
from bot.conversation import Budget, ContextTurn
from bot.domain import (
    ApiFamily,
    InputImage,
    Job,
    Place,
    RebuiltPair,
    RouterResult,
    Session,
    Turn,
    TurnCall,
)
from bot.errors import InputError, NotFound
from bot.storage import Store

log = logging.getLogger(__name__)

# The options of the source job that a thread keeps for every later turn.
SPEC_KEYS = ("aspect_ratio", "resolution", "size", "quality", "output_format", "background")


class Conversations:
    """Sessions and turns in the store, and the context each turn is sent with."""

    def __init__(
        self, store: Store, catalog: Catalog, budget: Budget, *, refine_model: str, max_pixels: int
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.budget = budget
        self.refine_model = refine_model
        self.max_pixels = max_pixels

    # -- opening --------------------------------------------------------------------------
    def thread_model(self, job: Job) -> ModelInfo:
        """The model a thread started from ``job`` runs on: the one that made the result."""
        return self.catalog.get(job.spec.model)

    async def for_thread(self, thread_id: str) -> Session | None:
        return await self.store.session_by_thread(thread_id)

    async def open(
        self, place: Place, job: Job, *, parent: Session | None = None, upto_job: int | None = None
    ) -> Session:
        """The thread's session, seeded with ``job`` as v1 (or a branch of ``parent`` up to
        ``upto_job``); idempotent, since a message in the thread may have rebuilt it first."""
        existing = await self.for_thread(place.thread_id)
        if existing is not None:
            return existing
        model = self.thread_model(job)
        session = await self._create(
            place,
            model,
            {"spec": {k: v for k, v in job.params.items() if k in SPEC_KEYS}},
            parent_session_id=parent.id if parent else None,
        )
        if parent is not None:
            await self._copy_turns(parent, session, upto_job)
        else:
            await self.record_job(
                session.id, job, model, text=job.result_text, images=job.result_images
            )
        return session

    async def _create(
        self,
        place: Place,
        model: ModelInfo,
        settings: dict[str, Any],
        *,
        parent_session_id: int | None = None,
    ) -> Session:
        return await self.store.create_session(
            thread_id=place.thread_id,
            channel_id=place.channel_id,
            guild_id=place.guild_id,
            owner_id=place.owner_id,
            model=model.id,
            family=model.family.value,
            settings=settings,
            parent_session_id=parent_session_id,
        )

    async def _copy_turns(self, parent: Session, session: Session, upto_job: int | None) -> None:
        head = None
        for turn in await self.store.turns(parent.id):
            if turn.status != "ok":
                continue
            head = await self.store.add_turn(
                session.id,
                role=turn.role,
                text=turn.text,
                images=turn.images,
                reasoning_details=turn.reasoning_details,
                job_id=turn.job_id,
                version=turn.version,
            )
            if turn.role == "assistant" and turn.job_id == upto_job:
                break
        if head is not None:
            await self.store.update_session(session.id, head_turn_id=head.id)

    # -- changing a session -----------------------------------------------------------------
    async def revert(self, job: Job) -> int:
        """Make ``job``'s result the base of the next turn; its version number."""
        turn = await self._answer_of(job)
        await self.store.update_session(turn.session_id, head_turn_id=turn.id)
        return turn.version or 1

    async def session_of(self, job: Job) -> Session:
        session = await self.store.get_session(job.session_id) if job.session_id else None
        if session is None:
            raise NotFound("That conversation no longer exists.")
        return session

    async def set_owner_only(self, session: Session, owner_only: bool) -> None:
        await self.store.update_session(
            session.id, settings={**session.settings, "owner_only": owner_only}
        )

    async def version_of(self, job: Job) -> int | None:
        """v1, v2, … for results in a refine thread; None elsewhere."""
        if job.session_id is None:
            return None
        turns = await self.store.turns(job.session_id)
        return next(
            (t.version for t in turns if t.job_id == job.id and t.role == "assistant"), None
        )

    async def _answer_of(self, job: Job) -> Turn:
        turns = await self.store.turns(job.session_id) if job.session_id else []
        turn = next((t for t in turns if t.job_id == job.id and t.role == "assistant"), None)
        if turn is None:
            raise NotFound("That version isn't part of this conversation any more.")
        return turn

    # -- rebuilding a thread the store forgot ---------------------------------------------
    async def replay(self, place: Place, first: Job, later: Sequence[Job]) -> Session:
        """From the jobs the thread's results point to: ``first`` made the starter."""
        session = await self.open(place, first)
        model = self.catalog.get(session.model)
        for job in later:
            if job.result_images:
                await self.record_job(
                    session.id, job, model, text=job.result_text, images=job.result_images
                )
        return await self._reloaded(session)

    async def adopt(self, place: Place, pairs: Sequence[RebuiltPair]) -> Session:
        """From the thread's messages alone; the model's reasoning can't be recovered, so those
        turns go back without it. The thread runs on the refine model."""
        session = await self._create(place, self.catalog.get(self.refine_model), {})
        for pair in pairs:
            inputs = [await self._keep(data) for data in pair.inputs]
            results = [await self._keep(data) for data in pair.results]
            await self.store.add_turn(session.id, role="user", text=pair.prompt, images=inputs)
            await self._add_answer(session.id, text=None, images=results)
        return await self._reloaded(session)

    async def _keep(self, data: bytes) -> str:
        mime = await asyncio.to_thread(images.sniff, data)
        return (await self.store.put_image(data, mime)).sha256

    async def _reloaded(self, session: Session) -> Session:
        fresh = await self.store.get_session(session.id)
        assert fresh is not None
        return fresh

    # -- recording --------------------------------------------------------------------------
    async def record(self, job: Job, result: RouterResult, hashes: Sequence[str]) -> None:
        """A successful turn joins the conversation as its request and the model's answer."""
        assert job.session_id is not None
        await self.record_job(
            job.session_id,
            job,
            self.catalog.get(job.spec.model),
            text=result.text,
            images=hashes,
            reasoning_details=result.reasoning_details,
        )

    async def record_job(
        self,
        session_id: int,
        job: Job,
        model: ModelInfo,
        *,
        text: str | None,
        images: Sequence[str],
        reasoning_details: list[Any] | None = None,
    ) -> Turn:
        """A job as the two turns it was, the answer (in copies ``model`` takes as input)
        becoming the session's head."""
        await self.store.add_turn(
            session_id, role="user", text=job.prompt, images=job.input_images, job_id=job.id
        )
        return await self._add_answer(
            session_id,
            text=text,
            images=await self.sendable(images, model),
            reasoning_details=reasoning_details,
            job_id=job.id,
        )

    async def _add_answer(self, session_id: int, **turn: Any) -> Turn:
        version = _next_version(await self.store.turns(session_id))
        answer: Turn = await self.store.add_turn(
            session_id, role="assistant", version=version, **turn
        )
        await self.store.update_session(session_id, head_turn_id=answer.id)
        return answer

    async def sendable(self, hashes: Sequence[str], model: ModelInfo) -> list[str]:
        """Copies of stored images that the model accepts as input (a 4K result is often over
        a chat model's 7 MB); made once when an image joins a conversation, originals kept."""
        out = []
        for sha in hashes:
            info = await self.store.image_info(sha)
            if info is not None and info.size <= model.max_input_bytes:
                out.append(sha)
                continue
            data = await self.store.get_image(sha)
            prepared = await asyncio.to_thread(
                fitting.prepare_input,
                data,
                max_bytes=model.max_input_bytes,
                max_pixels=self.max_pixels,
            )
            out.append((await self.store.put_image(prepared.data, prepared.mime)).sha256)
        return out

    # -- the context of the next turn -------------------------------------------------------
    async def history(self, session_id: int) -> list[ContextTurn]:
        """The session's successful turns up to its head, with their images, oldest first."""
        return await self._load_turns(await self._live_turns(session_id))

    async def context(self, job: Job, model: ModelInfo, inputs: list[InputImage]) -> TurnCall:
        """What to send for the turn ``job``: the latest (or replied-to) image and the new
        inputs for an images model; the trimmed transcript for a chat model."""
        assert job.session_id is not None
        turns = await self._live_turns(job.session_id)
        if model.family is ApiFamily.IMAGES:
            base = await self._base_image(job, turns)
            images_in = ([base] if base else []) + inputs
            if not images_in:
                raise InputError("There's no image in this conversation yet to refine.")
            return TurnCall(images=images_in[: model.max_inputs])
        # Trim on the sizes the store records, so images that won't be sent aren't loaded.
        sizes = [(t.role, await self._image_bytes(t.images)) for t in turns]
        sizes.append(("user", sum(len(i.data) for i in inputs)))
        skip = min(conversation.drop_count(sizes, self.budget), len(turns))
        history = await self._load_turns(turns[skip:])
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

    async def _live_turns(self, session_id: int) -> list[Turn]:
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

    async def _image_bytes(self, hashes: Sequence[str]) -> int:
        infos = [await self.store.image_info(h) for h in hashes]
        return sum(info.size for info in infos if info is not None)


def _next_version(turns: Sequence[Turn]) -> int:
    """The one version rule: one more than the highest version the session holds."""
    return 1 + max((t.version or 0 for t in turns if t.role == "assistant"), default=0)
