"""Retention: what the KEEP_* settings no longer keep is deleted, and expired interaction tokens
are dropped, by a sweep that runs now and then.

Each step walks its table in batches, each looked at without a lock and changed in a short
transaction of its own, so a sweep never holds a lock for long on a big table. The store
decides row by row what may go; nothing still referred to does. A walk that doesn't reach the
end within a sweep goes on from there in the next one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from bot.config import Settings
from bot.storage import Store

log = logging.getLogger("bot.retention")

TOKEN_LIFETIME = timedelta(minutes=15)  # Discord's; a job is never older than its token
BATCH = 500
MAX_BATCHES = 200  # per step and sweep
C = TypeVar("C", int, str)


@dataclass(frozen=True)
class SweepReport:
    """What one sweep removed."""

    jobs: int = 0
    images: int = 0
    tokens: int = 0


class Sweeper:
    """Deletes old finished jobs and unused images as configured, and drops expired tokens."""

    def __init__(
        self,
        store: Store,
        *,
        keep_jobs_days: int = 0,
        keep_images_days: int = 0,
        batch: int = BATCH,
        max_batches: int = MAX_BATCHES,
    ) -> None:
        self.store = store
        self.keep_jobs = timedelta(days=keep_jobs_days) if keep_jobs_days > 0 else None
        self.keep_images = timedelta(days=keep_images_days) if keep_images_days > 0 else None
        self.batch = batch
        self.max_batches = max_batches
        # Where each walk goes on. Kept in memory: after a restart the walks start again, and
        # the first token walk reads every job once (without a lock).
        self._jobs_below: int | None = None
        self._images_after: str | None = None
        self._tokens_after: int | None = None

    @classmethod
    def from_settings(cls, store: Store, settings: Settings) -> Sweeper:
        """A sweeper that keeps what ``KEEP_JOBS_DAYS`` and ``KEEP_IMAGES_DAYS`` say."""
        return cls(
            store,
            keep_jobs_days=settings.keep_jobs_days,
            keep_images_days=settings.keep_images_days,
        )

    async def sweep(self, now: datetime | None = None) -> SweepReport:
        """One pass: old jobs first (that frees their images), then unused images, then tokens."""
        now = now or datetime.now(UTC)
        started = time.monotonic()
        jobs = images = 0
        if self.keep_jobs is not None:
            jobs_before = now - self.keep_jobs
            jobs, self._jobs_below, _ = await self._walk(
                lambda below: self.store.delete_finished_jobs(jobs_before, below, limit=self.batch),
                self._jobs_below,
            )
        if self.keep_images is not None:
            images_before = now - self.keep_images
            images, self._images_after, _ = await self._walk(
                lambda after: self.store.delete_unused_images(
                    images_before, after, limit=self.batch
                ),
                self._images_after,
            )
        tokens = await self._drop_tokens(now - TOKEN_LIFETIME)
        report = SweepReport(jobs=jobs, images=images, tokens=tokens)
        log.info(
            "sweep: %d job(s), %d image(s) deleted, %d token(s) dropped in %.2f s",
            report.jobs,
            report.images,
            report.tokens,
            time.monotonic() - started,
        )
        return report

    async def run_forever(self, every: float) -> None:
        """Sweep, then sleep ``every`` seconds, until cancelled; a failed sweep is logged."""
        while True:
            try:
                await self.sweep()
            except Exception:  # a database hiccup must not end retention for good
                log.exception("sweep failed; next one in %.0f s", every)
            await asyncio.sleep(every)

    async def _walk(
        self, step: Callable[[C | None], Awaitable[tuple[int, C | None]]], start: C | None
    ) -> tuple[int, C | None, C | None]:
        """Run ``step`` batch after batch from ``start``: (total, cursor, last cursor not None)."""
        # The cursor is None once the walk reached the end: the next sweep starts a new lap.
        total, cursor, last = 0, start, start
        for _ in range(self.max_batches):
            removed, cursor = await step(cursor)
            total += removed
            if cursor is None:
                break
            last = cursor
        return total, cursor, last

    async def _drop_tokens(self, before: datetime) -> int:
        # Unlike the deletions this walk never starts again: jobs it has passed have no
        # token left, and none gets one back (finish_job keeps a dropped token dropped).
        dropped, _, self._tokens_after = await self._walk(
            lambda after: self.store.drop_expired_tokens(before, after, limit=self.batch),
            self._tokens_after,
        )
        return dropped
