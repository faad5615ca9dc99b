"""Keeps the suite hermetic: no connection or name lookup beyond loopback, in this process or in
the processes the tests start.

``install(log)`` wraps ``socket.socket.connect``/``connect_ex`` and ``socket.getaddrinfo``: a
non-loopback address is refused with ``NotHermetic`` (an ``OSError``, so the code under test
sees a network failure) and recorded, in memory and, for child processes, as a line in
``log``. The suite's conftest fails the test that caused it, even if the code swallowed the
error. Child processes get the guard through ``tests/guard/sitecustomize.py``
(``guarded_env``)."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GUARD_DIR = ROOT / "tests" / "guard"
LOG_VARIABLE = "EASEL_TEST_NETWORK_LOG"
LOCAL_NAMES = ("localhost", "localhost.", "ip6-localhost")

violations: list[str] = []


class NotHermetic(OSError):
    """A test tried to reach beyond loopback."""


def is_local_host(host: Any) -> bool:
    if host is None or host == "":
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host).split("%", 1)[0]  # an IPv6 scope id
    if host.lower() in LOCAL_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _refuse(what: str, log: Path | None) -> NotHermetic:
    violations.append(what)
    if log is not None:
        with log.open("a", encoding="utf-8") as file:
            file.write(f"pid {os.getpid()}: {what}\n")
    return NotHermetic(101, f"tests may only reach loopback, not {what}")  # ENETUNREACH


def install(log: Path | None = None) -> None:
    """Refuse and record every connection and lookup beyond loopback, from now on."""
    if getattr(socket, "_easel_guarded", False):
        return
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex
    getaddrinfo = socket.getaddrinfo

    def allowed(sock: socket.socket, address: Any) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return True  # Unix sockets, socketpairs
        return is_local_host(address[0])

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if not allowed(self, address):
            raise _refuse(f"a connection to {address!r}", log)
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        if not allowed(self, address):
            raise _refuse(f"a connection to {address!r}", log)
        return connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_local_host(host):
            raise _refuse(f"a lookup of {host!r}", log)
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = guarded_getaddrinfo
    socket._easel_guarded = True  # type: ignore[attr-defined]


def guarded_env(env: Mapping[str, str], log: Path) -> dict[str, str]:
    """``env`` for a child process that carries the guard, reporting into ``log``."""
    paths = [str(GUARD_DIR), str(ROOT), *filter(None, [env.get("PYTHONPATH", "")])]
    return {**env, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)), LOG_VARIABLE: str(log)}
