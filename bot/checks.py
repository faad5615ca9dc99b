"""``python -m bot check``: everything a start needs, checked at once, every problem one line.

Each check is independent and returns ``Finding`` lines: settings (missing or invalid), the
router (reachable, the ``/v1`` path, the key, the default models), Discord (the token, the
application, the Message Content intent; in ``bot.probes``), the store (opens, migrations) and
the data directory (writable, free space). A check whose settings are invalid is skipped, the
invalid setting being the line that says what to change.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError

from bot.catalog import Catalog
from bot.config import Settings, invalid_settings, missing_for_bot
from bot.errors import ConfigError
from bot.probes import Finding, check_discord, check_router, fix, ok
from bot.storage.engine import alembic_config, make_engine

MIN_FREE_BYTES = 1024**3  # images add up; below a gigabyte a busy day can fill the disk
STORE_TIMEOUT_S = 15


@dataclass(frozen=True, slots=True)
class Loaded:
    """The settings as far as they are valid (defaults in place of invalid values)."""

    settings: Settings
    invalid: frozenset[str]
    findings: tuple[Finding, ...]


def load(**overrides: Any) -> Loaded:
    """Read the settings, collecting every invalid or missing one instead of stopping."""
    try:
        settings = Settings(**overrides)
        invalid: dict[str, str] = {}
    except ValidationError as exc:
        invalid = invalid_settings(exc)
        fields = Settings.model_fields
        defaults = {n: fields[n].get_default(call_default_factory=True) for n in invalid}
        settings = Settings(**{**overrides, **defaults})
    findings = [fix(f"{line}; change it in .env or the environment") for line in invalid.values()]
    findings += [fix(line) for line in missing_for_bot(settings)]
    try:
        Catalog.load(settings.catalog_file)
    except ConfigError as exc:
        invalid["catalog_file"] = exc.user_message
        findings.append(fix(exc.user_message))
    if not findings:
        findings.append(ok("settings: every setting is valid"))
    return Loaded(settings, frozenset(invalid), tuple(findings))


async def run_checks(loaded: Loaded) -> list[Finding]:
    """Every check, at once; those whose settings are invalid are skipped."""
    settings, invalid = loaded.settings, loaded.invalid
    checks = []
    if "router_base_url" not in invalid:
        checks.append(check_router(settings))
    if not invalid & {"discord_api_base", "discord_token"}:
        checks.append(check_discord(settings))
    if not invalid & {"database_url", "data_dir"}:
        checks.append(check_store(settings))
        checks.append(asyncio.to_thread(check_data_dir, settings.data_dir))
    results = await asyncio.gather(*checks)
    return [*loaded.findings, *(finding for found in results for finding in found)]


async def check_store(settings: Settings) -> list[Finding]:
    """The store opens and its schema is this version's (or is upgraded at the next start)."""
    url = settings.database
    shown = safe_url(url)
    engine_url = sa.make_url(url)
    database = engine_url.database or ""
    sqlite = engine_url.get_backend_name() == "sqlite"
    if sqlite and not await asyncio.to_thread(Path(database).exists):
        return [ok(f"store {shown}: created at the first start")]
    try:
        current = await _revisions(url)
    except ConfigError as exc:
        return [fix(exc.user_message)]
    except (OSError, sa.exc.SQLAlchemyError, TimeoutError) as exc:
        reason = getattr(exc, "orig", None) or exc
        return [
            fix(
                f"DATABASE_URL: can't open the store {shown} ({type(reason).__name__}); check "
                "that the database server runs and the URL, user and password are right"
            )
        ]
    except Exception as exc:  # drivers raise their own errors (asyncpg's, for one)
        return [fix(f"DATABASE_URL: can't open the store {shown} ({type(exc).__name__})")]
    return [await asyncio.to_thread(_schema_finding, shown, current)]


async def _revisions(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with asyncio.timeout(STORE_TIMEOUT_S), engine.connect() as conn:
            heads = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
        return set(heads)
    finally:
        await engine.dispose()


def _schema_finding(shown: str, current: set[str]) -> Finding:
    script = ScriptDirectory.from_config(alembic_config())
    heads = set(script.get_heads())
    known = {revision.revision for revision in script.walk_revisions()}
    if current == heads:
        return ok(f"store {shown}: opens, migrations current ({', '.join(sorted(heads))})")
    if current - known:
        return fix(
            f"store {shown} is at revision {', '.join(sorted(current - known))}, which this "
            "Easel doesn't know: run the newer Easel that wrote it, or point DATABASE_URL "
            "or DATA_DIR at another store"
        )
    was = ", ".join(sorted(current)) or "empty"
    return ok(f"store {shown}: opens; migrations {was} → {', '.join(sorted(heads))} run at start")


def check_data_dir(path: Path) -> list[Finding]:
    """The data directory (or the directory it will be made in) is writable and has room."""
    existing = path.resolve()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        return [fix(f"DATA_DIR {path}: {existing} is a file; set DATA_DIR to a directory")]
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return [
            fix(
                f"DATA_DIR {path}: can't write in {existing} ({exc.strerror or exc}); make it "
                "writable for this user or set DATA_DIR elsewhere"
            )
        ]
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:
        return [
            fix(
                f"DATA_DIR {path}: only {free / 2**20:.0f} MB free on its disk; free some space "
                "or set DATA_DIR on a disk with at least 1 GB free"
            )
        ]
    return [ok(f"data directory {path.resolve()}: writable, {free / 2**30:.1f} GB free")]


def safe_url(url: str) -> str:
    """A database URL without its password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


def problems(findings: Iterable[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.problem]
