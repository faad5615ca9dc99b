"""SHARD_COUNT and SHARD_IDS: parsed, checked against each other, and one WORKER_ID per shard set."""

import pytest

from bot.config import load_settings, parse_shard_ids
from bot.errors import ConfigError


@pytest.fixture(autouse=True)
def _no_env_file(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    for name in ("SHARD_COUNT", "SHARD_IDS", "WORKER_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("text", "ids"), [("0-3", (0, 1, 2, 3)), ("2", (2,)), ("0,2", (0, 2)), ("4, 0-1", (0, 1, 4))]
)
def test_shard_ids_are_numbers_and_ranges(text, ids):
    assert parse_shard_ids(text) == ids


def test_no_shard_settings_is_one_connection_as_before():
    settings = load_settings()
    assert not settings.sharded and settings.shards is None


def test_auto_asks_discord_and_a_number_is_kept():
    assert load_settings(shard_count="AUTO").shard_count == "auto"
    settings = load_settings(shard_count="4", shard_ids="0-1")
    assert settings.shard_count == "4" and settings.shards == (0, 1)


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"SHARD_COUNT": "zero"}, "SHARD_COUNT is invalid"),
        ({"SHARD_COUNT": "0"}, "SHARD_COUNT is invalid"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "a-b"}, "SHARD_IDS is invalid"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "3-1"}, "SHARD_IDS is invalid"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "0-2"}, "SHARD_IDS go from 0 to SHARD_COUNT-1 (1)"),
        ({"SHARD_IDS": "0"}, "SHARD_IDS needs SHARD_COUNT set to a number"),
        ({"SHARD_COUNT": "auto", "SHARD_IDS": "0"}, "SHARD_IDS needs SHARD_COUNT set to a number"),
    ],
)
def test_bad_shard_settings_stop_start_up_naming_them(monkeypatch, env, words):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        load_settings()


def test_each_shard_set_gets_its_own_default_worker_id():
    one = load_settings(shard_count="2", shard_ids="0").worker_id
    two = load_settings(shard_count="2", shard_ids="1").worker_id
    assert one != two and one.endswith("-s0") and two.endswith("-s1")
    assert load_settings(shard_count="2", shard_ids="0", worker_id="w").worker_id == "w"
