"""The retry loop for router calls and downloads: the deadline of each attempt, which failures are
retried, how long to wait."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from bot.errors import RouterUnavailable
from bot.router import failures

log = logging.getLogger(__name__)

T = TypeVar("T")

_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 8.0


class Retrier:
    """Runs an attempt until it succeeds, fails for good, or runs out of retries or budget."""

    def __init__(
        self, max_retries: int, retry_budget: float, deadline: float | None = None
    ) -> None:
        self.max_retries = max_retries
        self.retry_budget = retry_budget
        self.deadline = deadline
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def run(self, attempt: Callable[[], Awaitable[T]], what: str) -> T:
        retrying = AsyncRetrying(
            sleep=self._do_sleep,
            stop=self._should_stop,
            wait=self._wait,
            retry=retry_if_exception_type(failures.Transient),
            before_sleep=lambda state: _log_retry(state, what, self.max_retries),
            reraise=True,
        )
        try:
            result: T = await retrying(self._timed, attempt, what)
        except failures.Transient as transient:
            log.warning("Router %s gave up: %s", what, transient.error)
            raise transient.error from transient.__cause__
        return result

    async def _timed(self, attempt: Callable[[], Awaitable[T]], what: str) -> T:
        """One attempt within ``deadline`` seconds, from connecting to the body's last byte."""
        if self.deadline is None:
            return await attempt()
        # httpx's own timeouts bound each read, so a server trickling a byte a second would never
        # time out: the deadline bounds the attempt as a whole.
        scope = asyncio.timeout(self.deadline)
        try:
            async with scope:
                return await attempt()
        except TimeoutError as exc:
            if not scope.expired():
                raise
            seconds = f"{self.deadline:g}"
            error = RouterUnavailable(
                f"The image service took longer than {seconds} s and timed out. "
                "Try again in a minute.",
                detail=f"no complete answer within {seconds} s",
            )
            raise failures.Transient(error) from exc

    async def _do_sleep(self, seconds: float) -> None:
        await self.sleep(seconds)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, failures.Transient) and exc.retry_after is not None:
            return exc.retry_after
        # Exponential with jitter, written out: tenacity's wait_exponential_jitter changed its
        # arguments between the versions pyproject allows.
        return min(
            _BACKOFF_CAP, _BACKOFF_BASE * 2.0 ** (state.attempt_number - 1) + random.uniform(0, 0.5)
        )

    def _should_stop(self, state: RetryCallState) -> bool:
        if state.attempt_number > self.max_retries:
            return True
        # max() so a fake sleep in tests spends budget too; never start a sleep past the budget.
        used = max(state.seconds_since_start or 0.0, state.idle_for)
        return used + state.upcoming_sleep > self.retry_budget


def _log_retry(state: RetryCallState, what: str, max_retries: int) -> None:
    exc = state.outcome.exception() if state.outcome else None
    reason = exc.error.detail if isinstance(exc, failures.Transient) else exc
    log.warning(
        "Router %s failed (%s); retry %d of %d in %.1f s",
        what,
        reason,
        state.attempt_number,
        max_retries,
        state.upcoming_sleep,
    )
