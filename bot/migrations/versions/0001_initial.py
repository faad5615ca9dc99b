"""Initial schema: images, sessions, jobs, job_images, turns, turn_images, channel_settings.

Revision ID: 0001
Revises:
Create Date: 2026-05-10
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

Snowflake = sa.String(32)


def timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("mime", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("width", sa.Integer()),
        sa.Column("height", sa.Integer()),
        timestamp("created_at"),
        sa.PrimaryKeyConstraint("sha256", name="pk_images"),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("thread_id", Snowflake),
        sa.Column("channel_id", Snowflake),
        sa.Column("guild_id", Snowflake),
        sa.Column("owner_id", Snowflake),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("family", sa.String(16), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("parent_session_id", sa.Integer()),
        sa.Column("head_turn_id", sa.Integer()),
        timestamp("created_at"),
        timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint("thread_id", name="uq_sessions_thread_id"),
        sa.ForeignKeyConstraint(
            ["parent_session_id"], ["sessions.id"], name="fk_sessions_parent_session_id_sessions"
        ),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("user_id", Snowflake),
        sa.Column("origin", sa.JSON(), nullable=False),
        sa.Column("parent_job_id", sa.Integer()),
        sa.Column("session_id", sa.Integer()),
        sa.Column("result_text", sa.Text()),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_message", sa.Text()),
        sa.Column("cost", sa.Float()),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("claimed_by", sa.String(200)),
        sa.Column("delivery", sa.JSON()),
        timestamp("created_at"),
        timestamp("started_at", nullable=True),
        timestamp("finished_at", nullable=True),
        timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.ForeignKeyConstraint(["parent_job_id"], ["jobs.id"], name="fk_jobs_parent_job_id_jobs"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_jobs_session_id_sessions"
        ),
    )
    op.create_index("ix_jobs_status_created_at", "jobs", ["status", "created_at"])
    op.create_index("ix_jobs_user_id", "jobs", ["user_id"])
    op.create_table(
        "job_images",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "role", "position", name="pk_job_images"),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_job_images_job_id_jobs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["sha256"], ["images.sha256"], name="fk_job_images_sha256_images"),
    )
    op.create_table(
        "turns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", sa.Text()),
        sa.Column("reasoning_details", sa.JSON()),
        sa.Column("job_id", sa.Integer()),
        sa.Column("message_id", Snowflake),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer()),
        timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_turns"),
        sa.UniqueConstraint("session_id", "position", name="uq_turns_session_id_position"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_turns_session_id_sessions", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name="fk_turns_job_id_jobs"),
    )
    op.create_index("ix_turns_message_id", "turns", ["message_id"])
    op.create_table(
        "turn_images",
        sa.Column("turn_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("turn_id", "position", name="pk_turn_images"),
        sa.ForeignKeyConstraint(
            ["turn_id"], ["turns.id"], name="fk_turn_images_turn_id_turns", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["sha256"], ["images.sha256"], name="fk_turn_images_sha256_images"),
    )
    op.create_table(
        "channel_settings",
        sa.Column("channel_id", Snowflake, nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        timestamp("updated_at"),
        sa.PrimaryKeyConstraint("channel_id", name="pk_channel_settings"),
    )


def downgrade() -> None:
    op.drop_table("channel_settings")
    op.drop_table("turn_images")
    op.drop_index("ix_turns_message_id", table_name="turns")
    op.drop_table("turns")
    op.drop_table("job_images")
    op.drop_index("ix_jobs_user_id", table_name="jobs")
    op.drop_index("ix_jobs_status_created_at", table_name="jobs")
    op.drop_table("jobs")
    op.drop_table("sessions")
    op.drop_table("images")
