"""Finding earlier jobs for /history: by owner, model, server and prompt words, newest first.

Prompt words are matched with SQLite FTS5 (the ``jobs_fts`` index of migration 0009) or
PostgreSQL full-text search (``to_tsvector('simple', prompt) @@ plainto_tsquery``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa

from bot.domain import Job, JobStatus
from bot.schema import jobs
from bot.storage.base import StoreBase
from bot.storage.rows import _select_jobs

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class HistoryQuery:
    """Which jobs to list: ``user_id`` None means anyone's; ``public_only`` hides private ones."""

    user_id: str | None = None
    guild_id: str | None = None
    text: str | None = None
    model: str | None = None
    public_only: bool = False


def fts_query(text: str) -> str | None:
    """Each word quoted, so FTS5 reads the user's text as words (all must appear), not syntax."""
    words = _WORD.findall(text)
    return " ".join(f'"{word}"' for word in words) if words else None


class JobHistory(StoreBase):
    async def search_jobs(
        self, query: HistoryQuery, *, offset: int = 0, limit: int = 5
    ) -> list[Job]:
        """Finished jobs that match, newest first; ``limit + 1`` asked tells if there is more."""
        stmt = jobs.select().where(jobs.c.status == JobStatus.DONE.value)
        if query.user_id is not None:
            stmt = stmt.where(jobs.c.user_id == query.user_id)
        if query.guild_id is not None:
            stmt = stmt.where(jobs.c.origin["guild_id"].as_string() == query.guild_id)
        if query.model is not None:
            stmt = stmt.where(jobs.c.params["model"].as_string() == query.model)
        if query.public_only:
            private = jobs.c.origin["private"].as_boolean()
            stmt = stmt.where(sa.or_(private.is_(None), private.is_(False)))
        async with self._tx() as conn:
            if query.text:
                matched = _matching(conn.dialect.name, query.text)
                if matched is None:
                    return []
                stmt = stmt.where(matched)
            stmt = stmt.order_by(jobs.c.id.desc()).offset(offset).limit(limit)
            return await _select_jobs(conn, stmt)


def _matching(dialect: str, text: str) -> sa.ColumnElement[bool] | None:
    if dialect == "postgresql":
        vector = sa.func.to_tsvector("simple", jobs.c.prompt)
        return vector.op("@@")(sa.func.plainto_tsquery("simple", text))
    fts = fts_query(text)
    if fts is None:
        return None
    rows = sa.text("SELECT rowid FROM jobs_fts WHERE jobs_fts MATCH :q").bindparams(q=fts)
    return jobs.c.id.in_(rows.columns(sa.column("rowid", sa.Integer)))
