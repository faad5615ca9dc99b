"""An index on ``jobs.session_id``: claiming from the shared store checks, for each queued
refine turn, whether an earlier turn of its session still waits or runs (``Store.claim_next``);
without it that check reads the whole table once per queued turn.

Revision ID: 0008_scale
Revises: 0009_iterate
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision: str = "0008_scale"
down_revision: str | None = "0009_iterate"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_jobs_session_id", "jobs", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_session_id", table_name="jobs")
