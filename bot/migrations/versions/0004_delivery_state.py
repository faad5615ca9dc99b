"""jobs.delivery_state: the delivery's state in an indexed column.

A restart posts every finished job whose result was never (or only half) posted. Reading that
out of the ``delivery`` JSON scanned the whole jobs table; the column mirrors
``delivery["state"]`` ("due" for a finished job nobody has claimed yet), and an index on
(delivery_state, id) answers "what is still to post, newest first" directly.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_jobs = sa.table(
    "jobs",
    sa.column("id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("delivery", sa.Text),
    sa.column("delivery_state", sa.String),
)


def _state(status: str, delivery: Any) -> str | None:
    if isinstance(delivery, str):
        delivery = json.loads(delivery) if delivery not in ("", "null") else None
    if delivery:
        return str(delivery.get("state") or "set")[:16]
    return "due" if status in ("done", "failed") else None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("delivery_state", sa.String(16)))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_jobs.c.id, _jobs.c.status, sa.cast(_jobs.c.delivery, sa.Text))
    ).all()
    states = [{"job": i, "state": _state(status, d)} for i, status, d in rows]
    if states := [s for s in states if s["state"] is not None]:
        bind.execute(
            _jobs.update()
            .where(_jobs.c.id == sa.bindparam("job"))
            .values(delivery_state=sa.bindparam("state")),
            states,
        )
    op.create_index("ix_jobs_delivery_state_id", "jobs", ["delivery_state", "id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_delivery_state_id", table_name="jobs")
    op.drop_column("jobs", "delivery_state")
