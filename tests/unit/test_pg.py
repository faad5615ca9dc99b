"""The suite's own PostgreSQL: a missing server fails in CI and only skips locally."""

import pytest

from tests import pg


def test_a_missing_server_fails_loudly_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        pg.unavailable("PostgreSQL", "no initdb")


def test_a_missing_server_skips_locally_with_the_reason(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL is not available: no initdb"):
        pg.unavailable("PostgreSQL", "no initdb")


async def test_the_store_url_is_a_real_server(store_url):
    import sqlalchemy as sa

    from bot.storage import make_engine

    engine = make_engine(store_url)
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            version = (await conn.execute(sa.text("SHOW server_version"))).scalar_one()
            assert int(version.split(".")[0]) >= 13
        else:
            assert (await conn.execute(sa.select(1))).scalar_one() == 1
    await engine.dispose()
