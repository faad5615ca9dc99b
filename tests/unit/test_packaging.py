"""The Docker path as written: the example .env leaves the image's own settings alone, the
image's command line wins where it must, the base is pinned by digest, the lock is used."""

from __future__ import annotations

import re
from pathlib import Path

from bot.cli import _settings, build_parser
from bot.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
IMAGE_OWNS = ("data_dir", "health_port", "health_host", "worker_id")


def test_the_example_env_leaves_what_the_image_sets_unset():
    lines = (ROOT / ".env.example").read_text().splitlines()
    assigned = {line.split("=", 1)[0].lower() for line in lines if re.match(r"[A-Z_]+=", line)}
    assert assigned and not set(IMAGE_OWNS) & assigned
    settings = load_settings(_env_file=ROOT / ".env.example")
    assert settings.health_port is None and settings.data_dir == Path("data")


def test_the_images_command_line_wins_over_an_env_file(monkeypatch):
    for name, value in {"DATA_DIR": "data", "HEALTH_HOST": "127.0.0.1", "HEALTH_PORT": ""}.items():
        monkeypatch.setenv(name, value)
    cmd = re.search(r'^CMD \["python", "-m", "bot", (.*)\]$', dockerfile(), re.M)
    assert cmd is not None
    argv = [part.strip().strip('"') for part in cmd.group(1).split(",")]
    settings = _settings(build_parser().parse_args(argv))
    assert (settings.data_dir, settings.health_port, settings.health_host) == (
        Path("/data"),
        8080,
        "0.0.0.0",
    )


def test_the_base_is_pinned_by_digest_and_the_lock_is_installed_with_hashes():
    text = dockerfile()
    assert re.search(r"^ARG BASE=\S+@sha256:[0-9a-f]{64}$", text, re.M)
    assert re.search(r"^FROM \$\{BASE\}$", text, re.M)
    assert "pip install --require-hashes --no-deps -r requirements.lock" in text
    assert re.search(r"^USER easel$", text, re.M)
    lock = (ROOT / "requirements.lock").read_text()
    for package in ("asyncpg", "discord-py", "httpx", "pillow", "platformdirs"):
        assert re.search(rf"^{package}==\S+ \\$", lock, re.M), package
    assert "--hash=sha256:" in lock


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()
