"""The whole suite is hermetic: every test runs in its own temporary directory (so the only
``.env`` it can read is one it wrote there), with no Easel setting inherited from the
developer's shell, and with every connection or name lookup beyond loopback refused and failing
the test that tried, in this process and in the Python processes it starts."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from tests import hermetic


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
