"""Settings: defaults, validation messages that name the variable, secrets never shown."""

import logging
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import bot
from bot.catalog import Catalog
from bot.config import load_settings
from bot.domain import ApiFamily
from bot.errors import ConfigError, InvalidOption, TooManyImages
from bot.logs import RedactingFilter
from tests import hermetic

SECRET = "rqy_supersecretkey_1234567890"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in (
        "DISCORD_TOKEN",
        "ROUTER_API_KEY",
        "ROUTER_BASE_URL",
        "REQUEST_TIMEOUT",
        "DATABASE_URL",
        "DATA_DIR",
        "CATALOG_FILE",
        "HEALTH_PORT",
        "ROUTER_RESULT_HOSTS",
        "WORKER_ID",
    ):
        monkeypatch.delenv(name, raising=False)


def test_defaults_point_at_requesty_and_sqlite():
    settings = load_settings()
    assert settings.router_base_url == "https://router.requesty.ai/v1"
    assert settings.database.startswith("sqlite+aiosqlite:///")
    assert settings.database.endswith("data/easel.db")


def test_dotenv_is_read_and_empty_values_mean_default(tmp_path):
    (tmp_path / ".env").write_text(f"ROUTER_API_KEY={SECRET}\nHEALTH_PORT=\nCATALOG_FILE=\n")
    settings = load_settings()
    assert settings.router_key() == SECRET
    assert settings.health_port is None and settings.catalog_file is None


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("REQUEST_TIMEOUT", "soon", "REQUEST_TIMEOUT is invalid"),
        ("REQUEST_TIMEOUT", "-1", "REQUEST_TIMEOUT is invalid"),
        ("ROUTER_BASE_URL", "router.example", "must be a URL"),
        ("HEALTH_PORT", "99999", "HEALTH_PORT is invalid"),
        ("ROUTER_RESULT_HOSTS", "https://cdn.example.com", "ROUTER_RESULT_HOSTS is invalid"),
        ("ROUTER_RESULT_HOSTS", "cdn.example.com:443", "no scheme, port or path"),
        ("ROUTER_RESULT_HOSTS", "cdn.example.com/images", "no scheme, port or path"),
        ("ROUTER_RESULT_HOSTS", "*", "ROUTER_RESULT_HOSTS is invalid"),
        ("ROUTER_RESULT_HOSTS", "*.com", "ROUTER_RESULT_HOSTS is invalid"),
        ("ROUTER_RESULT_HOSTS", "cdn.*.example.com", "ROUTER_RESULT_HOSTS is invalid"),
        ("MAX_DECODE_PIXELS", "999999", "MAX_DECODE_PIXELS is invalid"),
        ("MAX_DECODE_PIXELS", "200000001", "MAX_DECODE_PIXELS is invalid"),
        ("MAX_CONCURRENT_DECODES", "0", "MAX_CONCURRENT_DECODES is invalid"),
        ("MAX_CONCURRENT_DECODES", "33", "MAX_CONCURRENT_DECODES is invalid"),
    ],
)
def test_invalid_value_names_the_variable(monkeypatch, name, value, words):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert words in info.value.user_message


def test_decode_bounds_default_and_accept_their_range(monkeypatch):
    settings = load_settings()
    assert (settings.max_decode_pixels, settings.max_concurrent_decodes) == (24_000_000, 2)
    for pixels, slots in (("1000000", "1"), ("200000000", "32")):
        monkeypatch.setenv("MAX_DECODE_PIXELS", pixels)
        monkeypatch.setenv("MAX_CONCURRENT_DECODES", slots)
        settings = load_settings()
        assert (settings.max_decode_pixels, settings.max_concurrent_decodes) == (
            int(pixels),
            int(slots),
        )


def test_result_hosts_are_a_comma_separated_list(monkeypatch):
    assert load_settings().result_hosts == ()
    monkeypatch.setenv(
        "ROUTER_RESULT_HOSTS", " CDN.example.com., *.blob.core.windows.net,,10.0.0.5"
    )
    assert load_settings().result_hosts == (
        "cdn.example.com",
        "*.blob.core.windows.net",
        "10.0.0.5",
    )


@pytest.fixture
def host(monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: "box")


def test_worker_id_default_is_the_host_and_a_hash_of_the_store(monkeypatch, tmp_path, host):
    first = load_settings(data_dir=tmp_path / "one").worker_id
    assert re.fullmatch(r"box-[0-9a-f]{8}", first)
    assert load_settings(data_dir=tmp_path / "one").worker_id == first  # a restart: the same
    monkeypatch.setenv("DATA_DIR", "one")  # relative to the working directory, tmp_path
    assert load_settings().worker_id == first
    monkeypatch.delenv("DATA_DIR")
    assert load_settings(data_dir=tmp_path / "two").worker_id != first


def test_worker_id_default_follows_the_database_but_not_its_password(tmp_path, host):
    def worker_id(url: str | None) -> str:
        return load_settings(data_dir=tmp_path, database_url=url).worker_id

    pg = "postgresql+asyncpg://easel:{}@db.internal:5432/{}"
    assert worker_id(pg.format("old", "easel")) == worker_id(pg.format("new", "easel") + "?ssl=1")
    assert worker_id(pg.format("old", "easel")) != worker_id(pg.format("old", "other"))
    assert worker_id(pg.format("old", "easel")) != worker_id(None)


def test_worker_id_set_explicitly_is_kept_and_the_default_fits(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKER_ID", "bot-2")
    assert load_settings().worker_id == "bot-2"
    monkeypatch.setenv("WORKER_ID", "")  # empty means unset
    monkeypatch.setattr(socket, "gethostname", lambda: "h" * 253)
    derived = load_settings().worker_id
    assert len(derived) == 64 and derived.startswith("h" * 55 + "-")
    monkeypatch.setenv("WORKER_ID", "x" * 65)
    with pytest.raises(ConfigError, match="WORKER_ID is invalid"):
        load_settings()


def test_missing_secrets_explain_how_to_fix():
    settings = load_settings()
    with pytest.raises(ConfigError, match="DISCORD_TOKEN is not set"):
        settings.token()
    with pytest.raises(ConfigError, match="ROUTER_API_KEY is not set"):
        settings.router_key()


def test_secret_never_in_repr_or_error(monkeypatch):
    monkeypatch.setenv("ROUTER_API_KEY", SECRET)
    monkeypatch.setenv("REQUEST_TIMEOUT", SECRET)  # a secret pasted in the wrong place
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    monkeypatch.delenv("REQUEST_TIMEOUT")
    assert SECRET not in repr(load_settings())


def test_cli_config_error_exits_2_with_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "REQUEST_TIMEOUT": "soon", "HOME": str(tmp_path)}
    env["PYTHONPATH"] = str(Path(bot.__file__).parent.parent)  # a clean cwd: no .env
    env = hermetic.guarded_env(env, tmp_path / "network.log")
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "imagine", "x"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "Configuration error: REQUEST_TIMEOUT is invalid: Input should be a valid number, "
        "unable to parse string as a number"
    ]
    assert not (tmp_path / "network.log").exists()


def test_redacting_filter_cleans_messages_and_tracebacks():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "key is %s", (SECRET,), None)
    RedactingFilter([SECRET]).filter(record)
    assert SECRET not in record.getMessage()
    try:
        raise RuntimeError(f"boom {SECRET}")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    RedactingFilter([SECRET]).filter(record)
    assert SECRET not in record.getMessage() and "boom" in record.getMessage()


def test_catalog_knows_the_seed_models_and_families():
    catalog = Catalog.load()
    assert catalog.get("azure/openai/gpt-image-1").family is ApiFamily.IMAGES
    assert catalog.get("vertex/google/gemini-3-pro-image-preview").family is ApiFamily.CHAT
    assert catalog.get("azure/openai/gpt-image-1").max_inputs == 16
    assert catalog.get("some/new-gemini-model").family is ApiFamily.CHAT  # a guess, not a crash
    with pytest.raises(TooManyImages, match="at most 3"):
        catalog.get("vertex/google/gemini-2.5-flash-image-preview").check_inputs(4)
    with pytest.raises(InvalidOption, match="Choose from"):
        catalog.get("azure/openai/gpt-image-1").check_option("size", "999x1", ("1024x1024",))


def test_catalog_file_overrides_and_adds(tmp_path):
    path = tmp_path / "models.json"
    path.write_text(
        '[{"id": "azure/openai/gpt-image-1", "max_inputs": 4},'
        ' {"id": "my/flux", "family": "images", "label": "Flux"}]'
    )
    catalog = Catalog.load(path)
    assert catalog.get("azure/openai/gpt-image-1").max_inputs == 4
    assert catalog.get("my/flux").label == "Flux"
    path.write_text('[{"id": "x"}]')
    with pytest.raises(ConfigError, match="needs a 'family'"):
        Catalog.load(path)
