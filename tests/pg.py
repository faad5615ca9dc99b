"""A real PostgreSQL server for the tests: Debian's package, started on loopback in a temp dir.

Why Debian's ``postgresql`` rather than a server binary from PyPI: it is the server operators
run, it installs with the machine's own package manager (we run as root), and once installed
``initdb`` plus start takes 1.2–2.5 s on a loaded 2-core machine. Installing it where it is
missing (``apt-get install postgresql``) is done once per machine by the first test session.

The server runs as the ``postgres`` system user (PostgreSQL refuses root), listens on 127.0.0.1
on a free port and on a Unix socket in its own temp dir, trusts local connections, and runs with
``fsync=off`` (a test database needs no durability). Each test gets a fresh database
(``fresh_database``), dropped afterwards.

``unavailable`` fails loudly when ``CI`` is set, and only locally skips with the reason.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

INSTALL_TIMEOUT_S = 600
START_TIMEOUT_S = 60
_names = itertools.count(1)


def unavailable(what: str, reason: str) -> None:
    """Fail in CI, where the suite must run on the real server; skip locally, saying why."""
    message = f"{what} is not available: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set, so this fails instead of skipping)", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_bin() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian layout), or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    return Path(found[-1]).parent if found else None


def install() -> Path:
    """Install Debian's ``postgresql`` when it is missing; raise RuntimeError saying why not."""
    if (found := server_bin()) is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError("no PostgreSQL server installed, and apt-get can't be run as root here")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update"], ["apt-get", "install", "-y", "-q", "postgresql"]):
        done = subprocess.run(
            step, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(step)} failed: {done.stderr.strip()[-300:]}")
    if (found := server_bin()) is None:
        raise RuntimeError("apt-get installed postgresql but no initdb was found")
    return found


class PostgresServer:
    """One throwaway server: ``start()``, ``url(database)``, ``stop()``."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="easel-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.setup_seconds = 0.0
        # PostgreSQL won't run as root; as root, hand the directory to the postgres user.
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.root, self.user)

    def _run(self, *args: str, timeout: float = START_TIMEOUT_S) -> None:
        done = subprocess.run(
            [str(self.bin_dir / args[0]), *args[1:]],
            user=self.user,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {(done.stderr or done.stdout).strip()[-500:]}")

    def start(self) -> None:
        began = time.monotonic()
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "easel", "-E", "UTF8")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c max_connections=200"
        log = str(self.root / "server.log")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start")
        self.setup_seconds = time.monotonic() - began

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://easel@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """The same place for asyncpg itself."""
        return f"postgresql://easel@127.0.0.1:{self.port}/{database}"


async def fresh_database(server: PostgresServer) -> str:
    """Create an empty database and return its name."""
    import asyncpg

    name = f"t{os.getpid()}_{next(_names)}"
    conn = await asyncpg.connect(server.dsn(), timeout=30)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_database(server: PostgresServer, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server.dsn(), timeout=30)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
