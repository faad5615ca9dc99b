"""The workers table: one lease per WORKER_ID, so two live processes can't share an id.

A process resumes the running jobs claimed under its WORKER_ID after a restart; with two live
processes under one id, each would re-run the other's jobs. The bot claims its id's row before
it logs in and refreshes ``heartbeat_at`` while it runs; a row whose heartbeat is old is taken
over, one that is fresh refuses the second process.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workers"),
    )


def downgrade() -> None:
    op.drop_table("workers")
