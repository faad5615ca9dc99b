"""Alembic environment for Easel's schema.

``Store.open()`` runs it with ``config.attributes["connection"]`` set (an open transaction on
the store's engine). From a terminal, with ``DATABASE_URL`` set::

    alembic -c bot/migrations/alembic.ini upgrade head
    alembic -c bot/migrations/alembic.ini revision --autogenerate -m "what changed"
"""

from __future__ import annotations

import asyncio
import os

import sqlalchemy as sa
from alembic import context

from bot.schema import metadata
from bot.storage import make_engine


def run_on(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_url(url: str) -> None:
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_on)
    finally:
        await engine.dispose()


def database_url() -> str:
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("Set DATABASE_URL (e.g. sqlite+aiosqlite:///data/easel.db).")
    return url


given = context.config.attributes.get("connection")
if given is not None:
    run_on(given)
elif context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_from_url(database_url()))
