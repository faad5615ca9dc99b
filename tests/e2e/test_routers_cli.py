"""Every ROUTER_KIND end to end through the CLI: the fake router runs in that kind's mode (in
another process) and rejects what that router rejects, so a call shaped for the wrong router
fails here as it would for a user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.e2e.processes import router_process
from tests.e2e.test_cli import fault, last_job, png, recorded, run

ROOT = Path(__file__).resolve().parents[2]
KEY = "test-key-routers-0123456789"
KINDS = ("requesty", "openai", "openrouter", "litellm")
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module", params=KINDS)
def kind_url(request) -> Iterator[tuple[str, str]]:
    with router_process(KEY, "--kind", request.param) as url:
        yield request.param, url


@pytest.fixture
def kind_env(kind_url, tmp_path, monkeypatch) -> tuple[str, str, Path]:
    kind, url = kind_url
    httpx.post(f"{url.rsplit('/v1', 1)[0]}/_fake/reset", timeout=5).raise_for_status()
    monkeypatch.chdir(tmp_path)
    settings = {
        "ROUTER_BASE_URL": url,
        "ROUTER_API_KEY": KEY,
        "ROUTER_KIND": kind,
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "WARNING",
        "ROUTER_MAX_RETRIES": "1",
        "ROUTER_RETRY_BUDGET": "10",
        "REQUEST_TIMEOUT": "30",
    }
    for name in ("DATABASE_URL", "IMAGINE_MODEL", "EDIT_MODEL", "REFINE_MODEL", "CATALOG_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return kind, url, tmp_path


# The request each kind must get from `imagine` with the kind's default model.
EXPECTED = {
    "requesty": ("/images/generations", {"response_format": "b64_json"}),
    "openai": ("/images/generations", {}),
    "openrouter": ("/chat/completions", {"modalities": ["image", "text"]}),
    "litellm": ("/images/generations", {}),
}


def test_imagine_makes_an_image_and_shows_its_cost(kind_env, capsys):
    kind, url, tmp = kind_env
    status, paths, err = run(capsys, "imagine", "a red fox", "--out", "out")
    assert status == 0, err
    with Image.open(paths[0]) as im:
        im.load()
        assert im.format == "PNG" and min(im.size) >= 1024
    # usage.cost (Requesty, OpenRouter), the cost header (LiteLLM), tokens × prices (OpenAI)
    assert "cost $0.0" in err, err
    request = recorded(url)[-1]
    path, fields = EXPECTED[kind]
    assert request["path"].endswith(path) and request["status"] == 200
    for name, value in fields.items():
        assert request["body"][name] == value
    if kind != "requesty":
        assert "response_format" not in request["body"]
    job = last_job(tmp / "data")
    assert job.cost is not None and job.cost > 0


def fixes(lines: list[str]) -> list[str]:
    """The problems check found, but the Discord token's (these tests have no Discord)."""
    return [line for line in lines if line.startswith("FIX") and "DISCORD_TOKEN" not in line]


def test_check_passes_and_lists_the_live_models(kind_env, capsys):
    kind, _url, _tmp = kind_env
    _status, lines, err = run(capsys, "check")
    assert not fixes(lines), lines
    text = "\n".join(lines)
    assert f"ok   router kind: {kind} (ROUTER_KIND)" in text
    assert "ok   it offers" in text
    listed = [line[7:].split(" ", 1)[0] for line in lines if line.startswith("ok     ")]
    expected = {
        "requesty": "vertex/google/gemini-3-pro-image-preview",
        "openai": "gpt-image-1.5",
        "openrouter": "black-forest-labs/flux.2-pro",  # known only from the live list
        "litellm": "gemini/gemini-2.5-flash-image",
    }[kind]
    assert expected in listed
    assert not any("gpt-4o-mini" in model for model in listed)  # text models are left out
    assert KEY not in text and KEY not in err


def test_check_warns_about_a_default_the_router_does_not_offer(kind_env, capsys, monkeypatch):
    monkeypatch.setenv("IMAGINE_MODEL", "acme/no-such-image-model")
    status, lines, _err = run(capsys, "check")
    assert status == 2
    wanted = "FIX  IMAGINE_MODEL: the router doesn't offer acme/no-such-image-model; set "
    assert [line for line in fixes(lines) if line.startswith(wanted)], lines


def test_refusal_is_a_refusal_in_every_dialect(kind_env, capsys):
    kind, url, tmp = kind_env
    endpoint = "chat" if kind == "openrouter" else "generations"
    fault(url, kind="refusal", endpoint=endpoint)  # OpenRouter: 403 with metadata.reasons
    status, paths, err = run(capsys, "imagine", "something forbidden", "--out", "out")
    assert status == 1 and paths == []
    job = last_job(tmp / "data")
    assert job.error_code == "refused" and job.prompt == "something forbidden"


def test_edit_with_the_kinds_default_model(kind_env, capsys):
    kind, url, tmp = kind_env
    Path("in.png").write_bytes(png((320, 240)))
    status, paths, err = run(capsys, "edit", "in.png", "--prompt", "make it blue", "--out", "o")
    assert status == 0, err
    with Image.open(paths[0]) as im:
        im.load()
    assert "cost $0.0" in err, err
    request = recorded(url)[-1]
    if kind == "openrouter":  # no images API: the chat model gets the picture as a content part
        parts = [p["type"] for p in request["body"]["messages"][0]["content"]]
        assert request["path"].endswith("/chat/completions") and "image_url" in parts
    else:
        assert request["path"].endswith("/images/edits") and request["status"] == 200
        assert ("response_format" in request["body"]) == (kind == "requesty")


@pytest.mark.parametrize("kind_url", ["openrouter"], indirect=True)
def test_a_guessed_kind_is_named_as_a_possible_fix(kind_env, capsys, monkeypatch):
    monkeypatch.delenv("ROUTER_KIND")  # a loopback URL: guessed as requesty, wrongly
    _status, lines, _err = run(capsys, "check")
    missing = [line for line in fixes(lines) if line.startswith("FIX  IMAGINE_MODEL")]
    assert missing and "set ROUTER_KIND: it was guessed as requesty" in missing[0], lines
    status, _paths, err = run(capsys, "imagine", "a red fox", "--out", "out")
    assert status == 1
    assert "set ROUTER_KIND (openrouter, litellm, openai or requesty)" in err, err
    monkeypatch.setenv("ROUTER_KIND", "openrouter")
    status, paths, err = run(capsys, "imagine", "a red fox", "--out", "out")
    assert status == 0 and paths, err
