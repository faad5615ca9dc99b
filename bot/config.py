"""Settings from the environment or ``.env``, validated once at start with plain messages."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
import socket
import urllib.parse
from pathlib import Path
from typing import Any, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

DISCORD_TOKEN_HELP = (
    "DISCORD_TOKEN is not set: create an application at https://discord.com/developers/applications, "
    "open Bot → Reset Token, and put the token in .env as DISCORD_TOKEN=…"
)
ROUTER_KEY_HELP = (
    "ROUTER_API_KEY is not set: put your router key (Requesty, OpenRouter, LiteLLM or OpenAI) "
    "in .env as ROUTER_API_KEY=…"
)
DISCORD_API = "https://discord.com/api/v10"
# A DNS name of letters, digits and hyphens (IDNs in their xn-- form), optionally under "*.".
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"(?:\*\.)?(?:{_LABEL}\.)*{_LABEL}")


class Settings(BaseSettings):
    """Every setting Easel reads; the README's table and .env.example list the same names."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    discord_token: SecretStr | None = None
    router_base_url: str = "https://router.requesty.ai/v1"
    router_api_key: SecretStr | None = None
    imagine_model: str = "azure/openai/gpt-image-1"
    edit_model: str = "azure/openai/gpt-image-1"
    refine_model: str = "vertex/google/gemini-3-pro-image-preview"
    request_timeout: float = Field(180.0, gt=0, le=3600)
    router_max_retries: int = Field(3, ge=0, le=10)
    router_retry_budget: float = Field(120.0, ge=0, le=3600)
    # Hosts besides the router's own origin that url answers may be fetched from (comma-separated).
    router_result_hosts: str = ""
    data_dir: Path = Path("data")
    database_url: str | None = None
    catalog_file: Path | None = None
    log_level: str = "INFO"
    max_input_bytes: int = Field(50 * 1024 * 1024, gt=0)
    max_input_pixels: int = Field(50_000_000, gt=0)
    # An input that must be converted is decoded whole; a lower cap than the header check's.
    max_decode_pixels: int = Field(24_000_000, ge=1_000_000, le=200_000_000)
    max_concurrent_decodes: int = Field(2, ge=1, le=32)
    refine_max_turns: int = Field(20, ge=2, le=200)
    refine_max_image_mb: int = Field(40, ge=1, le=1000)
    # Retention: 0 keeps forever; a century is the most anyone means
    keep_jobs_days: int = Field(0, ge=0, le=36500)
    keep_images_days: int = Field(0, ge=0, le=36500)
    sweep_every_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    # Discord side
    dev_guild_id: int | None = None
    discord_api_base: str | None = None
    discord_gateway_url: str | None = None
    # Derived from the host and the store, not the pid: a restarted process must find its own
    # running jobs under the same id, while another deployment's id differs.
    worker_id: str = Field(
        "",
        max_length=64,
        description=(
            "This process's name in the store. Unset: <host name>-<hash of DATA_DIR and "
            "DATABASE_URL>, the same on every restart. Set it explicitly when several processes "
            "on one host share one store; a second live process with the same id is refused."
        ),
    )
    max_concurrent_jobs: int = Field(4, ge=1, le=100)
    max_jobs_per_user: int = Field(2, ge=1, le=100)
    max_queued_per_user: int = Field(5, ge=1, le=1000)
    health_port: int | None = Field(None, ge=1, le=65535)
    health_host: str = "127.0.0.1"

    @field_validator("router_base_url", "discord_api_base")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be a URL starting with http:// or https://")
        return value.rstrip("/")  # paths are appended to it

    @field_validator("discord_gateway_url")
    @classmethod
    def _ws_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("ws://", "wss://")):
            raise ValueError("must be a URL starting with ws:// or wss://")
        return value

    @field_validator("router_result_hosts")
    @classmethod
    def _result_hosts(cls, value: str) -> str:
        entries = [entry.strip().lower().rstrip(".") for entry in value.split(",")]
        for entry in filter(None, entries):
            if not _is_host_pattern(entry):
                raise ValueError(
                    "must be host names separated by commas, like cdn.example.com or "
                    "*.blob.core.windows.net (no scheme, port or path)"
                )
        return ",".join(filter(None, entries))

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @model_validator(mode="after")
    def _default_worker_id(self) -> Self:
        if not self.worker_id:
            self.worker_id = default_worker_id(self.data_dir, self.database_url)
        return self

    @property
    def database(self) -> str:
        """The store's URL: ``DATABASE_URL`` or a SQLite file in ``DATA_DIR``."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'easel.db').resolve()}"

    @property
    def result_hosts(self) -> tuple[str, ...]:
        """``ROUTER_RESULT_HOSTS`` as a tuple of lower-case host names and ``*.`` wildcards."""
        return tuple(self.router_result_hosts.split(",")) if self.router_result_hosts else ()

    @property
    def discord_api(self) -> str:
        """Discord's REST base: ``DISCORD_API_BASE`` or discord.com's."""
        return self.discord_api_base or DISCORD_API

    def router_key(self) -> str:
        if self.router_api_key is None or not self.router_api_key.get_secret_value():
            raise ConfigError(ROUTER_KEY_HELP)
        return self.router_api_key.get_secret_value()

    def token(self) -> str:
        if self.discord_token is None or not self.discord_token.get_secret_value():
            raise ConfigError(DISCORD_TOKEN_HELP)
        return self.discord_token.get_secret_value()


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


def _is_host_pattern(entry: str) -> bool:
    if entry.startswith("*."):
        # A wildcard over a whole top-level domain (*.com) is almost surely a mistake.
        return "." in entry[2:] and _HOST_NAME.fullmatch(entry) is not None
    try:
        ipaddress.ip_address(entry)  # an operator may name an internal store by address
        return True
    except ValueError:
        return _HOST_NAME.fullmatch(entry) is not None and len(entry) <= 253


def load_settings(**overrides: Any) -> Settings:
    """Read and validate settings; every problem is named in one ConfigError line."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError("; ".join(invalid_settings(exc).values())) from None


def invalid_settings(exc: ValidationError) -> dict[str, str]:
    """Each invalid setting's field name and a line naming the variable and what is wrong."""
    problems: dict[str, str] = {}
    for err in exc.errors():
        # Built from the location and message only: pydantic's own text echoes the input value,
        # which may be a secret.
        name = str(err["loc"][0]) if err["loc"] else "settings"
        message = str(err["msg"]).removeprefix("Value error, ")
        problems.setdefault(name, f"{name.upper()} is invalid: {message}")
    return problems


def missing_for_bot(settings: Settings) -> list[str]:
    """What the bot can't start without, each as a line saying how to set it."""
    missing = []
    if settings.discord_token is None or not settings.discord_token.get_secret_value():
        missing.append(DISCORD_TOKEN_HELP)
    if settings.router_api_key is None or not settings.router_api_key.get_secret_value():
        missing.append(ROUTER_KEY_HELP)
    return missing


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
