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

from bot import fitting, images
from bot.catalog import Catalog, ModelInfo
from bot.context import TurnContexts
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
from bot.errors import InvalidOption, NotAllowed, NotFound
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
        self.contexts = TurnContexts(store, budget)

    # -- opening --------------------------------------------------------------------------
    def thread_model(self, job: Job, default: str | None = None) -> ModelInfo:
        """Threads converse, so they run on the server's default refine model, else the refine
        model, whichever model made the result they start from; ``/easel-thread`` changes it."""
        return self.catalog.get(default or self.refine_model)

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
        model = self.catalog.get(parent.model) if parent else self.thread_model(job, place.model)
        session = await self._create(
            place,
            model,
            {"spec": thread_spec(job.params, model)},
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

    async def set_model(self, session: Session, model_id: str) -> Session:
        """Later turns run on ``model_id``; the thread's options follow the model's family."""
        if model_id not in self.catalog:
            raise InvalidOption(f"I don't know the model {model_id!r}; pick one from the list.")
        model = self.catalog.get(model_id)
        spec = thread_spec(session.settings.get("spec", {}), model)
        return await self.store.update_session(
            session.id,
            model=model.id,
            family=model.family.value,
            settings={**session.settings, "spec": spec},
        )

    @staticmethod
    def check_may_refine(session: Session, user_id: str) -> None:
        """An owner-only thread takes turns, reverts and branches from its starter alone."""
        if session.settings.get("owner_only") and user_id != session.owner_id:
            raise NotAllowed("Only the person who started this thread can refine here.")

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
        return await self.contexts.history(session_id)

    async def context(self, job: Job, model: ModelInfo, inputs: list[InputImage]) -> TurnCall:
        return await self.contexts.build(job, model, inputs)


def _next_version(turns: Sequence[Turn]) -> int:
    """The one version rule: one more than the highest version the session holds."""
    return 1 + max((t.version or 0 for t in turns if t.role == "assistant"), default=0)


# An images model's three sizes as the aspect ratios a chat model takes, and back.
_SIZE_RATIOS = {"1024x1024": "1:1", "1536x1024": "3:2", "1024x1536": "2:3"}


def thread_spec(params: dict[str, Any], model: ModelInfo) -> dict[str, Any]:
    """The source's options that the thread's model takes, the shape carried across families."""
    spec = {k: v for k, v in params.items() if k in SPEC_KEYS}
    if model.family is ApiFamily.CHAT:
        ratio = spec.get("aspect_ratio") or _SIZE_RATIOS.get(spec.get("size") or "")
        spec = {"aspect_ratio": ratio, "resolution": spec.get("resolution")}
    else:
        ratio = spec.get("aspect_ratio")
        size = next((s for s, r in _SIZE_RATIOS.items() if r == ratio), None)
        spec = {k: v for k, v in spec.items() if k not in ("aspect_ratio", "resolution")}
        spec["size"] = spec.get("size") or size
    return {k: v for k, v in spec.items() if v and _offered(model, k, v)}


def _offered(model: ModelInfo, key: str, value: str) -> bool:
    allowed = {
        "aspect_ratio": model.aspect_ratios,
        "resolution": model.resolutions,
        "size": model.sizes,
        "quality": model.qualities,
    }.get(key)
    return allowed is None or value in allowed
