"""Log lines name the job they are about, whichever module writes them, in tasks and threads
started while the job runs; and secrets never reach the output."""

from __future__ import annotations

import asyncio
import io
import logging

from bot.logs import JobFilter, RedactingFilter, job_context


def capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s: %(job)s%(message)s"))
    handler.addFilter(JobFilter())
    handler.addFilter(RedactingFilter(["sk-secret-key"]))
    logger = logging.getLogger("bot.router.client")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, stream


async def in_a_task(logger: logging.Logger) -> None:
    await asyncio.sleep(0)
    logger.info("in a task")


async def test_every_line_during_a_job_names_it() -> None:
    logger, stream = capture()
    try:
        logger.info("before")
        with job_context(42):
            logger.info("sending to the router with sk-secret-key")
            await asyncio.create_task(in_a_task(logger))
            await asyncio.to_thread(logger.info, "in a thread")
        logger.info("after")
    finally:
        logger.handlers.clear()
        logger.propagate = True
    assert stream.getvalue().splitlines() == [
        "bot.router.client: before",
        "bot.router.client: job 42: sending to the router with [redacted]",
        "bot.router.client: job 42: in a task",
        "bot.router.client: job 42: in a thread",
        "bot.router.client: after",
    ]
