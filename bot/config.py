"""Settings from the environment or ``.env``, validated once at start with plain messages."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path
from typing import Any, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError
from bot.memory import default_image_memory_mb
from bot.router.profiles import KINDS, PROFILES, guess_kind
from bot.values import application_id_from_token as application_id_from_token
from bot.values import default_worker_id as default_worker_id
from bot.values import is_host_pattern, parse_shard_ids

DISCORD_TOKEN_HELP = (
    "DISCORD_TOKEN is not set: create an application at https://discord.com/developers/applications, "
    "open Bot → Reset Token, and put the token in .env as DISCORD_TOKEN=…"
)
ROUTER_KEY_HELP = (
    "ROUTER_API_KEY is not set: put your router key (Requesty, OpenRouter, LiteLLM or OpenAI) "
    "in .env as ROUTER_API_KEY=…"
)
DISCORD_API = "https://discord.com/api/v10"


class Settings(BaseSettings):
    """Every setting Easel reads; the README's table and .env.example list the same names."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    discord_token: SecretStr | None = None
    router_base_url: str = "https://router.requesty.ai/v1"
    router_api_key: SecretStr | None = None
    # requesty | openrouter | litellm | openai; unset: guessed from the base URL's host.
    router_kind: str = ""
    # Unset: the router kind's defaults (bot/router/profiles.py), e.g. azure/openai/gpt-image-1.
    imagine_model: str = ""
    edit_model: str = ""
    refine_model: str = ""
    # How long a server's rules are cached; another process's change is seen within this.
    rules_cache_seconds: float = Field(5.0, ge=0, le=300)
    describe_model: str = "vertex/google/gemini-2.5-flash-image-preview"  # /describe's prompts
    request_timeout: float = Field(180.0, gt=0, le=3600)
    router_max_retries: int = Field(3, ge=0, le=10)
    router_retry_budget: float = Field(120.0, ge=0, le=3600)
    # Hosts besides the router's own origin that url answers may be fetched from (comma-separated).
    router_result_hosts: str = ""
    data_dir: Path = Path("data")
    database_url: str | None = None
    # Unset: images in DATA_DIR/images; s3://bucket/prefix: an S3-compatible object store.
    image_store: str | None = None
    s3_endpoint_url: str | None = None
    catalog_file: Path | None = None
    log_level: str = "INFO"
    max_input_bytes: int = Field(50 * 1024 * 1024, gt=0)
    max_input_pixels: int = Field(50_000_000, gt=0)
    # An input that must be converted is decoded whole; a lower cap than the header check's.
    max_decode_pixels: int = Field(24_000_000, ge=1_000_000, le=200_000_000)
    max_concurrent_decodes: int = Field(2, ge=1, le=32)
    # Images and answers this large (MB) are decoded and fitted in worker processes; 0: threads
    offload_above_mb: int = Field(4, ge=0, le=1024)
    offload_nice: int = Field(0, ge=0, le=19)  # the workers' niceness: >0 favours the loop
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
    # Gateway and workers: RUN_JOBS=false leaves every job to `python -m bot worker` processes.
    run_jobs: bool = True
    # A worker silent this long is dead: its running jobs are taken over by another worker.
    worker_lease_seconds: float = Field(60.0, ge=2, le=3600)
    max_concurrent_jobs: int = Field(4, ge=1, le=100)
    max_jobs_per_user: int = Field(2, ge=1, le=100)
    max_queued_per_user: int = Field(5, ge=1, le=1000)
    # Images of started, undelivered jobs (MiB); unset: a quarter of memory (bot/memory.py).
    max_image_memory_mb: int = Field(default_factory=default_image_memory_mb, ge=64, le=1 << 20)
    # Progress messages: at most one edit per channel this often, and so many a second in all
    # (Discord allows 5 edits per 5 s in a channel and 50 requests a second per bot).
    progress_edit_seconds: float = Field(1.0, ge=1.0, le=60)
    progress_edits_per_second: float = Field(30.0, ge=1, le=45)
    # Spend: a cap on the whole bot's router spend per UTC day, and the estimate above which a
    # user confirms a job with a button (0: never ask).
    budget_usd_per_day: float | None = Field(None, ge=0, le=1_000_000)
    confirm_above_usd: float = Field(0.50, ge=0, le=1_000_000)
    # Sharding: unset, one process serves every guild on one connection, as before.
    shard_count: str | None = None  # a number, or "auto": Discord's recommendation
    shard_ids: str | None = None  # the shards this process runs, e.g. "0-3" or "0,2"
    health_port: int | None = Field(None, ge=1, le=65535)
    health_host: str = "127.0.0.1"
    # The paint page (bot.web): where users' browsers reach Easel's web server, its port and key.
    public_url: str | None = None
    web_port: int | None = Field(None, ge=1, le=65535)
    web_host: str = "127.0.0.1"
    web_secret: SecretStr | None = None

    @field_validator("router_base_url", "discord_api_base")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be a URL starting with http:// or https://")
        return value.rstrip("/")  # paths are appended to it

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urllib.parse.urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError("must be a URL like https://easel.example.com (no query)")
        return value.rstrip("/")

    @field_validator("image_store")
    @classmethod
    def _image_store(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,62}(/\S*)?", value):
            raise ValueError("must be empty (the local directory) or s3://bucket/prefix")
        return value

    @field_validator("s3_endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be a URL starting with http:// or https://")
        return value

    @field_validator("shard_count")
    @classmethod
    def _shard_count(cls, value: str | None) -> str | None:
        if value is None or value.strip().lower() == "auto":
            return None if value is None else "auto"
        if not value.strip().isdigit() or not 1 <= int(value) <= 100_000:
            raise ValueError("must be a number of shards (1 or more) or auto")
        return str(int(value))

    @field_validator("shard_ids")
    @classmethod
    def _shard_ids(cls, value: str | None) -> str | None:
        if value is not None:
            parse_shard_ids(value)
        return value

    @model_validator(mode="after")
    def _shards_fit(self) -> Self:
        ids = self.shards
        if ids and self.shard_count in (None, "auto"):
            raise ValueError("SHARD_IDS needs SHARD_COUNT set to a number (the same everywhere)")
        if ids and max(ids) >= int(self.shard_count or 1):
            raise ValueError(
                f"SHARD_IDS go from 0 to SHARD_COUNT-1 ({int(self.shard_count or 1) - 1})"
            )
        return self

    @property
    def sharded(self) -> bool:
        return self.shard_count is not None

    @property
    def shards(self) -> tuple[int, ...] | None:
        """``SHARD_IDS`` as a tuple, or None for every shard."""
        return parse_shard_ids(self.shard_ids) if self.shard_ids else None

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
            if not is_host_pattern(entry):
                raise ValueError(
                    "must be host names separated by commas, like cdn.example.com or "
                    "*.blob.core.windows.net (no scheme, port or path)"
                )
        return ",".join(filter(None, entries))

    @field_validator("router_kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        value = value.strip().lower()
        if value and value not in KINDS:
            raise ValueError(f"must be one of {', '.join(KINDS)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @model_validator(mode="after")
    def _router_defaults(self) -> Self:
        imagine, edit, refine = PROFILES[self.kind].models
        self.imagine_model = self.imagine_model or imagine
        self.edit_model = self.edit_model or edit
        self.refine_model = self.refine_model or refine
        return self

    @model_validator(mode="after")
    def _default_worker_id(self) -> Self:
        if not self.worker_id:
            self.worker_id = default_worker_id(self.data_dir, self.database_url)
            if self.shard_ids:  # shard processes on one host each get their own id
                self.worker_id = f"{self.worker_id}-s{self.shard_ids.replace(',', '.')}"[:64]
        return self

    @property
    def kind(self) -> str:
        """``ROUTER_KIND``, or the kind the base URL's host names (else requesty)."""
        return self.router_kind or guess_kind(self.router_base_url)

    @property
    def database(self) -> str:
        """The store's URL: ``DATABASE_URL`` or a SQLite file in ``DATA_DIR``."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'easel.db').resolve()}"

    @property
    def web_server_port(self) -> int | None:
        """Where the paint page is served: WEB_PORT; else the health port; 8080 with PUBLIC_URL."""
        if self.web_port or not self.public_url:
            return self.web_port
        return self.health_port or 8080

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
        message = str(err["msg"]).removeprefix("Value error, ")
        if not err["loc"]:  # a rule across settings: its message names them
            problems.setdefault("settings", message)
            continue
        name = str(err["loc"][0])
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
