"""The value rules behind some settings, apart from ``bot.config``'s Settings: shard id lists,
the default WORKER_ID, host patterns, and the application id a bot token carries."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
import socket
import urllib.parse
from pathlib import Path

from bot.errors import ConfigError

# A DNS name of letters, digits and hyphens (IDNs in their xn-- form), optionally under "*.".
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"(?:\*\.)?(?:{_LABEL}\.)*{_LABEL}")


def parse_shard_ids(value: str) -> tuple[int, ...]:
    """``"0-3"``, ``"0,2"``, ``"1"`` or ``"0-1,4"`` as sorted shard ids; ValueError otherwise."""
    ids: set[int] = set()
    for part in value.replace(" ", "").split(","):
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()) or int(high or low) < int(low):
            raise ValueError("must be shard numbers and ranges, like 0-3 or 0,2")
        ids.update(range(int(low), int(high or low) + 1))
    return tuple(sorted(ids))


def default_worker_id(data_dir: Path, database_url: str | None, host: str | None = None) -> str:
    """``<host>-<8 hex digits>``, the digits hashed from the data directory and the database."""
    host = (host or socket.gethostname() or "easel")[:55]  # 55 + 9 fits WORKER_ID's 64
    store = f"{data_dir.resolve()}\n{_store_identity(database_url or '')}"
    return f"{host}-{hashlib.sha256(store.encode()).hexdigest()[:8]}"


def _store_identity(url: str) -> str:
    """Which database a URL names, without password or options: rotating a password keeps the id."""
    parts = urllib.parse.urlsplit(url)
    where = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{parts.username or ''}@{where}{parts.path}"


def is_host_pattern(entry: str) -> bool:
    """A host name (optionally under "*.", not a whole top-level domain) or an IP address."""
    if entry.startswith("*."):
        # A wildcard over a whole top-level domain (*.com) is almost surely a mistake.
        return "." in entry[2:] and _HOST_NAME.fullmatch(entry) is not None
    try:
        ipaddress.ip_address(entry)  # an operator may name an internal store by address
        return True
    except ValueError:
        return _HOST_NAME.fullmatch(entry) is not None and len(entry) <= 253


def application_id_from_token(token: str) -> int:
    """A bot token's first part is the base64 of the bot's user id, which is the application id."""
    head = token.split(".", 1)[0]
    try:
        return int(base64.b64decode(head + "=" * (-len(head) % 4)).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ConfigError(
            "DISCORD_TOKEN doesn't look like a bot token; copy it again from the "
            "Developer Portal (Bot → Reset Token)."
        ) from None
