"""Indexes for retention: what refers to a job or an image is found without a table scan.

The sweeper asks "does any turn or child job refer to this job?" and "does any job or turn
refer to this image?"; and on PostgreSQL, deleting a row checks the foreign keys that point at
it, which without these scans the referring table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

INDEXES = (
    ("ix_jobs_parent_job_id", "jobs", "parent_job_id"),
    ("ix_job_images_sha256", "job_images", "sha256"),
    ("ix_turns_job_id", "turns", "job_id"),
    ("ix_turn_images_sha256", "turn_images", "sha256"),
)


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column])


def downgrade() -> None:
    for name, table, _column in reversed(INDEXES):
        op.drop_index(name, table_name=table)
