"""Logging, set up once by the entry point, with every configured secret redacted."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterable, Iterator

REDACTED = "[redacted]"

# The job the current task works on; tasks and threads started from it inherit it.
_job: contextvars.ContextVar[int | None] = contextvars.ContextVar("easel_job", default=None)


@contextlib.contextmanager
def job_context(job_id: int) -> Iterator[None]:
    """Every log line written inside, by any module, names this job."""
    token = _job.set(job_id)
    try:
        yield
    finally:
        _job.reset(token)


class JobFilter(logging.Filter):
    """Adds ``%(job)s``: "job 12: " while a job runs, else nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        job_id = _job.get()
        record.job = f"job {job_id}: " if job_id is not None else ""
        return True


class RedactingFilter(logging.Filter):
    """Replaces secrets in the rendered message, whatever code logged them."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        clean = redact(message, self._secrets)
        if clean != message or record.exc_info:
            record.msg, record.args = clean, None
            if record.exc_info and record.exc_info[1] is not None:
                # Tracebacks are rendered later from exc_info; render now so they can be cleaned.
                text = logging.Formatter().formatException(record.exc_info)
                record.msg = f"{clean}\n{redact(text, self._secrets)}"
                record.exc_info = None
                record.exc_text = None
        return True


class NoVoiceNotices(logging.Filter):
    """Easel speaks no voice: discord.py's notices that voice libraries are missing are noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "voice will NOT be supported" not in record.getMessage()


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def setup_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """Configure the root logger once; quiet the chatty libraries."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(job)s%(message)s")
    )
    handler.addFilter(JobFilter())
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # discord.http and discord.webhook log request URLs, which hold interaction tokens, at DEBUG.
    for name in (
        "discord.http",
        "discord.webhook",
        "discord.gateway",
        "httpx",
        "httpcore",
        "aiosqlite",
        "alembic",
        "aiobotocore",
        "botocore",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)
    client = logging.getLogger("discord.client")
    if not any(isinstance(f, NoVoiceNotices) for f in client.filters):
        client.addFilter(NoVoiceNotices())
