"""This process's hold on its WORKER_ID: claimed before the bot logs in, renewed while it runs.

A process resumes the running jobs stored under its WORKER_ID, so two live processes with one id
would each re-run the other's jobs (paid twice, posted twice). The lease in the store's
``workers`` table makes the second one stop at start instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.errors import ConfigError, StorageError

if TYPE_CHECKING:
    from bot.storage import Store
    from bot.storage.workers import WorkerLease

log = logging.getLogger(__name__)

HEARTBEAT_EVERY_S = 15.0


def this_process() -> tuple[str, int]:
    """The host name and pid a lease names."""
    return socket.gethostname(), os.getpid()


async def claim_lease(store: Store, worker_id: str) -> None:
    """Hold ``worker_id`` for this process, or raise ConfigError naming the live holder."""
    host, pid = this_process()
    # A refusal and the read of who holds it are two steps; the holder may let go in between.
    for _attempt in range(3):
        if await store.claim_worker(worker_id, host, pid):
            log.info("holding WORKER_ID=%s", worker_id)
            return
        holder = await store.worker_lease(worker_id)
        if holder is not None and holder.host == host and not _alive(holder.pid):
            # This host's earlier process died without letting go (kill -9, a crash): no need
            # to wait for its lease to go stale before carrying on with its jobs.
            log.info("WORKER_ID=%s was held by pid %s, which is gone", worker_id, holder.pid)
            if await store.claim_worker(worker_id, host, pid, stale_after=0):
                return
        elif holder is not None:
            raise ConfigError(refusal(holder))
    raise ConfigError(f"WORKER_ID={worker_id} could not be claimed; try again.")


def _alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (signal 0 checks, sends nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def refusal(holder: WorkerLease, now: datetime | None = None) -> str:
    """The one line a second process with the same WORKER_ID stops with."""
    seen = max(0, round(((now or datetime.now(UTC)) - holder.heartbeat_at).total_seconds()))
    return (
        f"Another Easel process is running as WORKER_ID={holder.worker_id} "
        f"(host {holder.host}, pid {holder.pid}, seen {seen} s ago). "
        "Give each process its own WORKER_ID."
    )


async def keep_lease(store: Store, worker_id: str, every: float = HEARTBEAT_EVERY_S) -> None:
    """Renew the lease every ``every`` seconds until cancelled; problems are logged, not raised."""
    host, pid = this_process()
    while True:
        await asyncio.sleep(every)
        try:
            # A missed renewal with the row gone (released, or never claimed) is claimed afresh.
            if await store.heartbeat(worker_id, pid) or await store.claim_worker(
                worker_id, host, pid
            ):
                continue
            holder = await store.worker_lease(worker_id)
            if holder is not None:
                # Another process took the id over while this one was silent (paused, or the
                # store unreachable for a minute): both may now run the same jobs.
                log.error("lost the lease: %s", refusal(holder))
        except StorageError as exc:
            log.warning("could not renew the lease on WORKER_ID=%s: %s", worker_id, exc)


async def release_lease(store: Store, worker_id: str) -> None:
    """Let the next process with this WORKER_ID start at once; the store failing is logged."""
    try:
        await store.release_worker(worker_id, this_process()[1])
    except StorageError as exc:
        log.warning("could not release WORKER_ID=%s (free in a minute): %s", worker_id, exc)
