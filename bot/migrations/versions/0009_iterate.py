"""Prompt search for /history: an FTS5 index of job prompts on SQLite, kept by triggers.

PostgreSQL needs no table: ``bot.storage.history`` matches ``to_tsvector('simple', prompt)``
against ``plainto_tsquery`` directly. The FTS5 table is external-content (it stores only the
index, the prompts stay in ``jobs``) and is rebuilt from the existing jobs here.

Revision ID: 0009_iterate
Revises: 0006_budgets
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision: str = "0009_iterate"
down_revision: str | None = "0006_budgets"
branch_labels: str | None = None
depends_on: str | None = None

_SQLITE_UP = (
    "CREATE VIRTUAL TABLE jobs_fts USING fts5(prompt, content='jobs', content_rowid='id')",
    "CREATE TRIGGER jobs_fts_insert AFTER INSERT ON jobs BEGIN "
    "INSERT INTO jobs_fts(rowid, prompt) VALUES (new.id, new.prompt); END",
    "CREATE TRIGGER jobs_fts_delete AFTER DELETE ON jobs BEGIN "
    "INSERT INTO jobs_fts(jobs_fts, rowid, prompt) VALUES ('delete', old.id, old.prompt); END",
    "CREATE TRIGGER jobs_fts_update AFTER UPDATE OF prompt ON jobs BEGIN "
    "INSERT INTO jobs_fts(jobs_fts, rowid, prompt) VALUES ('delete', old.id, old.prompt); "
    "INSERT INTO jobs_fts(rowid, prompt) VALUES (new.id, new.prompt); END",
    "INSERT INTO jobs_fts(jobs_fts) VALUES ('rebuild')",
)
_SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS jobs_fts_update",
    "DROP TRIGGER IF EXISTS jobs_fts_delete",
    "DROP TRIGGER IF EXISTS jobs_fts_insert",
    "DROP TABLE IF EXISTS jobs_fts",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE_DOWN:
            op.execute(statement)
