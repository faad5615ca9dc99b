"""The whole suite is hermetic: every test runs in its own temporary directory (so the only
``.env`` it can read is one it wrote there), with no Easel setting inherited from the
developer's shell, and with every connection or name lookup beyond loopback refused and failing
the test that tried, in this process and in the Python processes it starts.

Fixtures for every test: one real PostgreSQL server per session, and ``store_url``.

``store_url`` runs a test twice, on a fresh SQLite file and on a fresh database of the real
PostgreSQL server (``tests/pg.py``). Use it in any test of the store, the queue or the workers.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from tests import hermetic, pg


@pytest.fixture(scope="session", autouse=True)
def hermetic_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """No inherited settings; the network guard in this process and in its children."""
    log = tmp_path_factory.mktemp("hermetic") / "network.log"
    log.touch()
    with pytest.MonkeyPatch.context() as patch:
        for name in (field.upper() for field in Settings.model_fields):
            patch.delenv(name, raising=False)
        for name, value in hermetic.guarded_env(os.environ, log).items():
            patch.setenv(name, value)
        hermetic.install()  # in memory here; children write to the log
        yield log


@pytest.fixture(autouse=True)
def hermetic_test(
    hermetic_session: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Run in ``tmp_path``; fail if anything, here or in a child, reached beyond loopback."""
    monkeypatch.chdir(tmp_path)
    seen, logged = len(hermetic.violations), hermetic_session.stat().st_size
    yield
    children = hermetic_session.read_text(encoding="utf-8")[logged:].splitlines()
    reached = hermetic.violations[seen:] + children
    assert not reached, f"the test reached beyond loopback: {reached}"


@pytest.fixture(scope="session")
def pg_server():
    """The session's PostgreSQL server (installed and started on first use), or fail/skip."""
    try:
        server = pg.PostgresServer(pg.install())
        server.start()
    except (RuntimeError, OSError, TimeoutError) as exc:
        pg.unavailable("PostgreSQL", str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def pg_url(pg_server):
    """A fresh, empty database on the session's server, dropped afterwards."""
    name = await pg.fresh_database(pg_server)
    yield pg_server.url(name)
    await pg.drop_database(pg_server, name)


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request, tmp_path):
    """An empty store's DATABASE_URL: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'easel.db'}"
        return
    server = request.getfixturevalue("pg_server")
    name = await pg.fresh_database(server)
    yield server.url(name)
    await pg.drop_database(server, name)


@pytest.fixture(scope="session")
def s3_server():
    """The session's S3-protocol server (moto), or fail in CI / skip locally."""
    try:
        from tests import s3

        server = s3.MotoServer()
        server.start()
    except (ImportError, RuntimeError, OSError) as exc:
        pg.unavailable("The S3 test server (moto)", str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def image_store(s3_server, monkeypatch):
    """A fresh bucket: (IMAGE_STORE, S3_ENDPOINT_URL), with test credentials in the env."""
    from aiobotocore.session import get_session

    from tests import s3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.SECRET_KEY)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    bucket = f"easel-{next(_buckets)}"
    async with get_session().create_client("s3", endpoint_url=s3_server.endpoint) as client:
        await client.create_bucket(Bucket=bucket)
    return f"s3://{bucket}/images", s3_server.endpoint


_buckets = itertools.count(1)
