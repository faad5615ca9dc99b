"""Budgets, quotas and cooldowns per server, role and user; the spend ledger; the log channel.

A job holds an estimate of its cost in ``spend`` when it is submitted (checked against the
limits in ``budgets`` in the same transaction), settled to the router's cost when it answers,
released when it fails or is cancelled.

Revision ID: 0006_budgets
Revises: 0005_rules
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_budgets"
down_revision: str | None = "0005_rules"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("guild_id", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("target_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_budgets"),
        sa.UniqueConstraint(
            "guild_id",
            "scope",
            "target_id",
            "kind",
            "period",
            name="uq_budgets_guild_id_scope_target_id_kind_period",
        ),
    )
    op.create_index("ix_budgets_guild_id", "budgets", ["guild_id"])
    op.create_table(
        "spend",
        sa.Column("job_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("guild_id", sa.String(32)),
        sa.Column("user_id", sa.String(32)),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("shape", sa.String(64), nullable=False),
        sa.Column("images", sa.Integer(), nullable=False),
        sa.Column("estimate", sa.Float(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(32)),
        sa.Column("seconds", sa.Float()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("job_id", name="pk_spend"),
    )
    op.create_index("ix_spend_created_at", "spend", ["created_at"])
    op.create_index("ix_spend_guild_id_created_at", "spend", ["guild_id", "created_at"])
    op.create_index("ix_spend_model_shape", "spend", ["model", "shape"])
    op.create_table(
        "spend_logs",
        sa.Column("guild_id", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("guild_id", name="pk_spend_logs"),
    )


def downgrade() -> None:
    op.drop_table("spend_logs")
    op.drop_index("ix_spend_model_shape", table_name="spend")
    op.drop_index("ix_spend_guild_id_created_at", table_name="spend")
    op.drop_index("ix_spend_created_at", table_name="spend")
    op.drop_table("spend")
    op.drop_index("ix_budgets_guild_id", table_name="budgets")
    op.drop_table("budgets")
