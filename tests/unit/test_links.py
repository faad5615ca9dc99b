"""How a message points at its job: only Easel's own messages are believed, whatever buttons
another author's message carries; the one id format round-trips."""

from __future__ import annotations

from types import SimpleNamespace

from cogs import links

BOT = 42


def message(author_id: int, *custom_ids: str):
    row = SimpleNamespace(children=[SimpleNamespace(custom_id=c) for c in custom_ids])
    return SimpleNamespace(author=SimpleNamespace(id=author_id), components=[row])


def test_easels_result_names_its_job() -> None:
    assert links.job_id_of(message(BOT, "easel:remix:7", "easel:retry:7"), BOT) == 7


def test_a_forged_button_on_another_apps_message_is_not_believed() -> None:
    assert links.job_id_of(message(99, "easel:retry:7"), BOT) is None
    assert links.job_id_of(message(BOT, "easel:retry:7"), None) is None


def test_the_id_format_round_trips() -> None:
    assert links.parse(links.custom_id("missing", 12)) == ("missing", 12)
    assert links.parse("easel:retry:12x") is None
    assert links.parse("other:retry:12") is None
    assert links.parse(None) is None
