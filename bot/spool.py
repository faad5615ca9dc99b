"""Spool files: how large payloads travel to and from the worker processes (``bot.offload``).

They live in one directory per process, in /dev/shm when it has room (memory, no writeback),
else in the temporary directory. Its name carries the process id, so that the first use in a new
process removes what a killed one left there (files in /dev/shm hold memory until removed).
``Spooled`` is a payload already in such a file (a router answer written there as it was read,
so the bot never holds it whole); ``Writer`` writes one chunk by chunk, a thread doing each
write so the loop never waits on it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

SHM = "/dev/shm"
SHM_ROOM = 1024 * 1024 * 1024  # Docker's default 64 MB /dev/shm is too small
BATCH = 1024 * 1024  # bytes gathered before a write
PREFIX = "easel-offload-"  # then the process id, a dash and mkdtemp's random part

_lock = threading.Lock()
_directory: Path | None = None


def directory() -> Path:
    """This process's spool directory (made on first use, again if something removed it)."""
    global _directory
    with _lock:
        if _directory is None or not _directory.is_dir():
            root = _root()
            if _directory is None:
                _remove_orphans(Path(root or tempfile.gettempdir()))
            prefix = f"{PREFIX}{os.getpid()}-"
            _directory = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
        return _directory


def _remove_orphans(root: Path) -> None:
    """Remove the spool directories of processes that no longer run (killed, out of memory)."""
    for found in root.glob(f"{PREFIX}*-*"):
        pid = found.name[len(PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(found, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive, and not ours to clean
        return True
    return True


def remove_all() -> None:
    """Remove the spool directory and whatever is left in it (a later use makes a new one)."""
    global _directory
    with _lock:
        spooled, _directory = _directory, None
    if spooled is not None:
        shutil.rmtree(spooled, ignore_errors=True)


def new_path(suffix: str, where: Path | None = None) -> Path:
    return (where or directory()) / f"{uuid.uuid4().hex}{suffix}"


def _root() -> str | None:
    """/dev/shm when it has room, else the temporary directory (maybe on disk, where each write
    of a 4K answer may wait on writeback)."""
    try:
        stat = os.statvfs(SHM)
    except OSError:
        return None
    return SHM if stat.f_bavail * stat.f_frsize >= SHM_ROOM else None


def write(path: Path, data: bytes | bytearray | memoryview, mode: str = "wb") -> None:
    with open(path, mode, buffering=0) as f:  # unbuffered: one write, the GIL let go meanwhile
        view = memoryview(data)
        while view:
            view = view[f.write(view) :]


@dataclass(frozen=True)
class Spooled:
    """A payload in a spool file, ``length`` bytes long; whoever reads it last removes it."""

    path: Path
    length: int

    def __len__(self) -> int:
        return self.length

    def read(self) -> bytes:
        """The bytes (in a thread: a large read lets go of the GIL)."""
        return self.path.read_bytes()

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


class Writer:
    """A spool file written as chunks arrive: gathered to ``BATCH``, each batch written by a
    thread. ``finish`` gives the ``Spooled``; ``discard`` removes the file (on any failure)."""

    def __init__(self, path: Path) -> None:
        self.path, self.length = path, 0
        self._pending: list[bytes] = []
        self._gathered = 0

    @classmethod
    async def open(cls) -> Writer:
        """A writer of a new file in the spool directory (made by the first batch's write)."""
        return cls(new_path(".in", await asyncio.to_thread(directory)))

    async def add(self, chunk: bytes) -> None:
        self._pending.append(chunk)
        self._gathered += len(chunk)
        self.length += len(chunk)
        if self._gathered >= BATCH:
            await self._flush()

    async def finish(self) -> Spooled:
        await self._flush()
        return Spooled(self.path, self.length)

    async def discard(self) -> None:
        await asyncio.to_thread(self.path.unlink, True)

    async def _flush(self) -> None:
        if self._pending:
            pending, self._pending, self._gathered = self._pending, [], 0
            await asyncio.to_thread(_append, self.path, pending)


def _append(path: Path, chunks: list[bytes]) -> None:
    write(path, b"".join(chunks), "ab")
