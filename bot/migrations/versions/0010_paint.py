"""Paint links and the web secret: what a paint link's signed token stands for (one use, across
processes and restarts), and the token key the processes share when WEB_SECRET is unset.

Revision ID: 0010_paint
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0010_paint"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "paint_links",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("image", sa.String(64), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("origin", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("made_job_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_paint_links_job_id_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_paint_links"),
    )
    op.create_index("ix_paint_links_expires_at", "paint_links", ["expires_at"])
    # Deleting a job (retention) checks the links that point at it: by index, not by scan.
    op.create_index("ix_paint_links_job_id", "paint_links", ["job_id"])
    op.create_table(
        "web_secrets",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_web_secrets"),
    )


def downgrade() -> None:
    op.drop_table("web_secrets")
    op.drop_index("ix_paint_links_job_id", table_name="paint_links")
    op.drop_index("ix_paint_links_expires_at", table_name="paint_links")
    op.drop_table("paint_links")
