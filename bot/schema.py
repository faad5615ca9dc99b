"""The tables, defined once: the store queries them and the migrations must match them
(a test compares the two)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite, which keeps no offset."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Snowflake = sa.String(32)  # Discord ids, kept as text: exact everywhere, JSON-safe
Json = sa.JSON(none_as_null=True)  # Python None is SQL NULL, so "IS NULL" means unset

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

images = sa.Table(
    "images",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("mime", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    # When last stored, not first: retention ages an image from it, so one stored again (and
    # about to be referenced) is young again.
    sa.Column("created_at", UtcDateTime, nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("thread_id", Snowflake, unique=True),
    sa.Column("channel_id", Snowflake),
    sa.Column("guild_id", Snowflake),
    sa.Column("owner_id", Snowflake),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("family", sa.String(16), nullable=False),
    sa.Column("settings", Json, nullable=False),
    sa.Column("parent_session_id", sa.Integer, sa.ForeignKey("sessions.id")),
    sa.Column("head_turn_id", sa.Integer),  # no foreign key: turns already point at sessions
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("params", Json, nullable=False),
    sa.Column("user_id", Snowflake, index=True),
    sa.Column("origin", Json, nullable=False),
    sa.Column("parent_job_id", sa.Integer, sa.ForeignKey("jobs.id"), index=True),
    sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id"), index=True),
    sa.Column("result_text", sa.Text),
    sa.Column("error_code", sa.String(64)),
    sa.Column("error_message", sa.Text),
    sa.Column("cost", sa.Float),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("claimed_by", sa.String(200)),
    sa.Column("delivery", Json),
    # Mirrors delivery["state"], plus "due" for a finished job nobody has claimed to post yet:
    # restart finds what is still to post by this indexed column, not by reading JSON.
    sa.Column("delivery_state", sa.String(16)),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Index("ix_jobs_status_created_at", "status", "created_at"),
    sa.Index("ix_jobs_delivery_state_id", "delivery_state", "id"),
)
# On SQLite, migration 0009 adds jobs_fts, an FTS5 index of jobs.prompt kept by triggers, for
# /history's search (bot/storage/history.py); it is no Table here, as FTS5 tables can't be.

job_images = sa.Table(
    "job_images",
    metadata,
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role", sa.String(8), primary_key=True),  # input | mask | output
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("sha256", sa.String(64), sa.ForeignKey("images.sha256"), nullable=False, index=True),
)

turns = sa.Table(
    "turns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "session_id",
        sa.Integer,
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # user | assistant
    sa.Column("text", sa.Text),
    sa.Column("reasoning_details", Json),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), index=True),
    sa.Column("message_id", Snowflake, index=True),
    sa.Column("status", sa.String(16), nullable=False),  # ok | failed
    sa.Column("version", sa.Integer),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("session_id", "position"),
)

turn_images = sa.Table(
    "turn_images",
    metadata,
    sa.Column(
        "turn_id", sa.Integer, sa.ForeignKey("turns.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("sha256", sa.String(64), sa.ForeignKey("images.sha256"), nullable=False, index=True),
)

channel_settings = sa.Table(
    "channel_settings",
    metadata,
    sa.Column("channel_id", Snowflake, primary_key=True),
    sa.Column("settings", Json, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# One row per WORKER_ID that a live bot process holds: a lease kept fresh by heartbeats, so a
# second process with the same id is refused at start instead of resuming the first one's jobs.
workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.String(200), primary_key=True),  # as long as jobs.claimed_by
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("heartbeat_at", UtcDateTime, nullable=False),
)

# One row per paint link (``bot.web``): what the signed token stands for, so a link is good for
# one use across processes and restarts. ``used_at`` is set by a compare-and-set on submit.
paint_links = sa.Table(
    "paint_links",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # random, named in the signed token
    sa.Column("user_id", Snowflake, nullable=False),
    sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id", ondelete="CASCADE"), index=True),
    sa.Column("image", sa.String(64), nullable=False),  # no key: it must not hold up retention
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("origin", Json, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False, index=True),
    sa.Column("used_at", UtcDateTime),
    sa.Column("made_job_id", sa.Integer),  # the edit job it made; no key: retention may drop it
)

# Secrets the processes sharing a store must agree on (the web token key when WEB_SECRET is
# unset): the first process to start writes one, every later one reads it.
web_secrets = sa.Table(
    "web_secrets",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

# One row per server: its access rules and defaults (``bot.rules.Rules`` as JSON). ``version``
# goes up with every change, so a change is a compare-and-set and two panels can't lose one.
guild_rules = sa.Table(
    "guild_rules",
    metadata,
    sa.Column("guild_id", Snowflake, primary_key=True),
    sa.Column("rules", Json, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Owner limits per server (bot/budgets.py): money (usd), images, or a cooldown in seconds, for
# the server as a whole (scope "server"), each member by default ("member"), a role or a user.
budgets = sa.Table(
    "budgets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("guild_id", Snowflake, nullable=False, index=True),
    sa.Column("scope", sa.String(8), nullable=False),  # server | member | role | user
    sa.Column("target_id", Snowflake, nullable=False),  # the role or user id; "" otherwise
    sa.Column("kind", sa.String(8), nullable=False),  # usd | images | cooldown
    sa.Column("period", sa.String(8), nullable=False),  # day | week | month ("" for cooldown)
    sa.Column("amount", sa.Float, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("guild_id", "scope", "target_id", "kind", "period"),
)

# The ledger: one row per job that asked for money. A hold at submit, settled to the router's
# cost when it answers, released when it fails or is cancelled; refusals are kept for the stats.
# No foreign key to jobs: retention may delete a job, the money it spent stays counted.
spend = sa.Table(
    "spend",
    metadata,
    sa.Column("job_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("guild_id", Snowflake),
    sa.Column("user_id", Snowflake),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("shape", sa.String(64), nullable=False),  # size|quality|resolution|n, for medians
    sa.Column("images", sa.Integer, nullable=False),
    sa.Column("estimate", sa.Float, nullable=False),
    sa.Column("amount", sa.Float, nullable=False),  # what counts: the hold, then the cost
    sa.Column("state", sa.String(10), nullable=False),  # held | settled | released | refused
    sa.Column("estimated", sa.Boolean, nullable=False),  # the router reported no cost
    sa.Column("outcome", sa.String(32)),  # done | failed | cancelled | a refusal's limit
    sa.Column("seconds", sa.Float),  # from start to answer, for the stats
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("settled_at", UtcDateTime),
    sa.Index("ix_spend_created_at", "created_at"),
    sa.Index("ix_spend_guild_id_created_at", "guild_id", "created_at"),
    sa.Index("ix_spend_model_shape", "model", "shape"),
)

# Where every job of a server is logged (who, prompt, model, cost, link); one row per server.
spend_logs = sa.Table(
    "spend_logs",
    metadata,
    sa.Column("guild_id", Snowflake, primary_key=True),
    sa.Column("channel_id", Snowflake, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# Small facts the bot keeps about itself, by key: the hash of the command tree last synced to
# Discord per application and scope, so a start syncs only when the commands changed.
app_state = sa.Table(
    "app_state",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)
