"""The guild_rules table: one row per server with its access rules and defaults (as JSON).

Read by primary key, so a Discord event costs at most one indexed lookup (and none while the
rules are cached); ``version`` makes every change a compare-and-set.

Revision ID: 0005_rules
Revises: 0010_paint
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_rules"
down_revision: str | None = "0010_paint"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "guild_rules",
        sa.Column("guild_id", sa.String(32), nullable=False),
        sa.Column("rules", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", name="pk_guild_rules"),
    )


def downgrade() -> None:
    op.drop_table("guild_rules")
