"""Delivery: progress while a job waits and runs, then its result or error, posted exactly once.

The interaction token is kept in the job's origin so that progress and results go to the
original "thinking…" response, also after a restart; once the token has expired (15 minutes)
the result goes to the channel (or, for private jobs, to the requester's DMs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
import discord

from bot.app import EaselBot
from bot.domain import GeneratedImage, Job, JobStatus
from bot.errors import DeliveryError, EaselError
from bot.jobs import Outcome
from bot.progress import ProgressBoard
from cogs import links, render
from cogs.buttons import result_view
from cogs.posting import Poster
from cogs.threads import threads_of

log = logging.getLogger(__name__)

PROGRESS_EVERY = (
    5.0  # seconds between elapsed-time edits of a running job (the board's running_every)
)
# Posting again while Discord is down: 5 s, 10 s, … at most a minute apart, for an hour.
RETRY_FIRST, RETRY_CAP, RETRY_DEADLINE = 5.0, 60.0, 3600.0
# What discord.py raises once its own retries are spent: Discord, or the way to it, is down.
TRANSIENT = (discord.DiscordServerError, aiohttp.ClientError, OSError, TimeoutError)


def unshowable(exc: BaseException) -> EaselError:
    """Why a stored result can't be shown, in words the requester can act on."""
    if isinstance(exc, EaselError):
        return EaselError(f"I made your image but can't show it: {exc.user_message} Press Retry.")
    return EaselError("I made your image but can't show it. Press Retry to make it again.")


def _error_of(job: Job) -> EaselError | None:
    if job.status is JobStatus.DONE:
        retrying = (job.delivery or {}).get("error")
        return EaselError(retrying) if retrying else None
    return EaselError(job.error_message)


class Delivery:
    """Owns every message about a job after it is queued."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot
        self.poster = Poster(bot)
        # Every job's progress message on one board, edited by one loop (key 0 here, started by
        # the first launch) at most once a PROGRESS_EDIT_SECONDS per channel.
        self._tickers: dict[int, asyncio.Task[None]] = {}
        self._watched: dict[int, tuple[Job, discord.ui.View | None]] = {}
        settings = bot.settings
        self.board = ProgressBoard(
            bot.queue.positions,
            bot.queue.running,
            interval=settings.progress_edit_seconds,
            per_second=settings.progress_edits_per_second,
            running_every=PROGRESS_EVERY,
        )
        self._retries: dict[int, asyncio.Task[None]] = {}
        bot.queue.on_finished(self.finished)

    # -- while the job waits and runs ---------------------------------------------------------
    async def launch(self, job: Job) -> None:
        """Queue a stored job and keep its response updated until it finishes."""
        if not self.bot.settings.run_jobs:
            return  # stored queued: a worker process takes it, runs it and posts it
        await self.bot.queue.enqueue(job)
        label = self.bot.service.catalog.get(job.spec.model).label
        notes = "".join(f"\n⚠️ {note}" for note in job.origin.get("notes", ()))

        def text(position: int | None, elapsed: float | None) -> str:
            return render.progress_text(job.prompt, position, elapsed, label) + notes

        self._watched[job.id] = (job, self.view_for(job, running=True))
        self.board.add(job.id, str(job.origin.get("channel_id") or f"job-{job.id}"), text)
        if 0 not in self._tickers or self._tickers[0].done():
            self._tickers[0] = asyncio.create_task(self._tick(), name="progress")

    async def _tick(self) -> None:
        """The one progress loop: the board says which edits are due, this performs them."""
        try:
            await self.board.run(self._edit)
        except Exception:  # a bug must not end progress for good: the next launch restarts it
            log.exception("the progress loop failed")

    async def _edit(self, job_id: int, text: str) -> None:
        if (watched := self._watched.get(job_id)) is None:
            return  # it finished meanwhile
        job, view = watched
        with contextlib.suppress(discord.HTTPException):
            await self.poster.edit_progress(job, content=text, view=view)

    # -- when it ends -------------------------------------------------------------------------
    async def finished(self, outcome: Outcome) -> None:
        self._watched.pop(outcome.job_id, None)
        await self.board.forget(outcome.job_id)
        job = await self.bot.service.store.get_job(outcome.job_id)
        if job is None or not job.origin.get("channel_id"):
            return  # not a Discord job (the CLI)
        # The run's own images: posted from memory, not read back from the store a second time.
        held = outcome.result.images if outcome.result is not None else ()
        await self.deliver(job, outcome.error, held)

    async def deliver(
        self, job: Job, error: EaselError | None, held: Sequence[GeneratedImage] = ()
    ) -> None:
        """Post the outcome once; the compare-and-set makes any other caller stand back.
        ``held``: the result's images already in memory (else they are read from the store)."""
        claim = {"state": "posting", "at": time.time(), "since": time.time()}
        if await self.bot.service.store.set_delivery(job.id, claim):
            await self._attempt(job, error, claim, held)

    async def _attempt(
        self,
        job: Job,
        error: EaselError | None,
        state: dict[str, Any],
        held: Sequence[GeneratedImage] = (),
    ) -> None:
        """One try at posting; whatever goes wrong ends in a post, a retry later, or a DM."""
        try:
            message = await self._post_outcome(job, error, held)
        except DeliveryError as exc:  # Discord said no for good: permissions, size
            await self._give_up(job, exc.user_message)
        except TRANSIENT as exc:
            await self._later(job, error, state, exc)
        except Exception as exc:
            if error is not None:
                log.exception("job %s: could not post its error", job.id)
                await self._give_up(job, "Something went wrong on our side while posting.")
                return
            # The result can't be shown (its file is gone or damaged, it won't fit): say so,
            # with Retry, rather than leave "thinking…" forever.
            log.warning("job %s: could not post its result: %r", job.id, exc)
            await self._attempt(job, unshowable(exc), state)
        else:
            await self._posted(job, error, message)

    async def _posted(self, job: Job, error: EaselError | None, message: discord.Message) -> None:
        place = {"channel_id": str(message.channel.id), "message_id": str(message.id)}
        await self.bot.service.store.set_delivery(
            job.id, {"state": "posted", **place}, only_if_unset=False
        )
        if error is None and job.cost is not None and render.cost_shown(job) == "requester":
            await self.poster.tell_cost(job)
        if error is None and job.origin.get("open_thread"):
            await self._open_thread(job, message.channel.id, message.id)

    async def _give_up(self, job: Job, reason: str) -> None:
        log.warning("job %s: could not deliver: %s", job.id, reason)
        await self.bot.service.store.set_delivery(
            job.id, {"state": "failed", "reason": reason}, only_if_unset=False
        )
        await self.poster.tell_requester(job, reason)

    async def _later(
        self, job: Job, error: EaselError | None, state: dict[str, Any], exc: BaseException
    ) -> None:
        """Discord is down or slow: try again with backoff, across restarts, until the deadline."""
        attempts = int(state.get("attempts", 0)) + 1
        since = float(state.get("since") or time.time())
        if time.time() - since > RETRY_DEADLINE:
            await self._give_up(job, "Discord was unreachable for too long.")
            return
        delay = min(RETRY_CAP, RETRY_FIRST * 2 ** (attempts - 1))
        log.warning("job %s: Discord failed (%r); posting again in %.0f s", job.id, exc, delay)
        waiting = {
            "state": "retrying",
            "attempts": attempts,
            "since": since,
            "next_at": time.time() + delay,
            "error": error.user_message if error else None,
        }
        await self.bot.service.store.set_delivery(job.id, waiting, only_if_unset=False)
        self._schedule(job.id, delay)

    def _schedule(self, job_id: int, delay: float) -> None:
        task = asyncio.create_task(self._retry(job_id, delay), name=f"redeliver-{job_id}")
        self._retries[job_id] = task
        task.add_done_callback(lambda _t: self._retries.pop(job_id, None))

    async def _retry(self, job_id: int, delay: float) -> None:
        await asyncio.sleep(delay)
        store = self.bot.service.store
        job = await store.get_job(job_id)
        state = dict(job.delivery or {}) if job else {}
        if job is None or state.get("state") != "retrying":
            return
        claimed = {**state, "state": "posting", "at": time.time()}
        if await store.set_delivery(job.id, claimed, only_if_state="retrying"):
            await self._attempt(job, _error_of(job), claimed)

    async def _open_thread(self, job: Job, channel_id: int, message_id: int) -> None:
        """``/imagine thread:true``: a refine thread from the posted result."""
        channel = self.bot.get_channel(channel_id)
        if not isinstance(channel, discord.TextChannel):
            return  # threads need a text channel (not a DM or a thread)
        try:
            message = await channel.fetch_message(message_id)
            await threads_of(self.bot).open(message, job, job.user_id or "")
        except discord.HTTPException as exc:
            log.warning("job %s: could not open a thread: %s", job.id, exc)

    async def resume(self) -> None:
        """Post what finished before a restart but was never (or half) posted, newest first;
        deliveries waiting for Discord to come back are scheduled again."""
        store = self.bot.service.store
        for job in await store.undelivered_jobs():
            state = dict(job.delivery or {})
            if not job.origin.get("channel_id"):
                continue
            if state.get("state") == "retrying":
                self._schedule(job.id, max(0.0, float(state.get("next_at", 0)) - time.time()))
                continue
            if state.get("state") == "posting" and await self.poster.already_posted(job):
                continue
            if state.get("state") == "posting":
                await store.set_delivery(job.id, {}, only_if_unset=False)
            await self.deliver(job, _error_of(job))

    async def _post_outcome(
        self, job: Job, error: EaselError | None, held: Sequence[GeneratedImage] = ()
    ) -> discord.Message:
        if error is not None:
            payload = render.error_payload(job, error, view=self.view_for(job, ok=False))
            return await self.poster.send(job, payload)
        originals = await self.bot.service.store.result_images(job, held)
        limit = int(job.origin.get("upload_limit") or links.DEFAULT_UPLOAD_LIMIT)
        version = await self.bot.service.sessions.version_of(job)
        for attempt in range(3):
            payload = await render.result_payload(
                job,
                originals,
                self.bot.service.catalog,
                per_file=limit,
                view=None,
                version=version,
            )
            payload.view = self.view_for(job, ok=True, full=payload.reencoded)
            if job.origin.get("warnings"):  # "⚠️ Only using the last 19 turns…", "2 of 3 images…"
                payload.content = "\n".join(job.origin["warnings"])
            try:
                return await self.poster.send(job, payload)
            except discord.HTTPException as exc:
                if exc.status >= 500:
                    raise  # Discord's trouble, not our payload's: tried again later
                if exc.status != 413 and exc.code != 40005 or attempt == 2:
                    raise DeliveryError("Discord would not take the images.") from exc
                limit //= 2  # Discord refused the size: fit smaller and send again
                log.info("job %s: upload refused, refitting under %d bytes", job.id, limit)
        raise DeliveryError("Discord would not take the images.")

    # -- buttons ------------------------------------------------------------------------------
    def view_for(
        self, job: Job, *, ok: bool = True, running: bool = False, full: bool = False
    ) -> discord.ui.View | None:
        paint = self.bot.painting is not None
        return result_view(job, ok=ok, running=running, full=full, paint=paint)

    async def close(self) -> None:
        tasks = [*self._tickers.values(), *self._retries.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tickers.clear()


async def setup(bot: EaselBot) -> None:
    bot.delivery = Delivery(bot)
