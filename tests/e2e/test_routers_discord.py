"""/imagine and /easel-models on each kind of router: the real bot, the fake Discord and the fake
router in that kind's mode. The live catalog is read at start-up; a failing /models falls back
to the built-in one."""

from __future__ import annotations

import dataclasses
import io

import pytest
from PIL import Image

from bot.domain import JobStatus
from tests.e2e.conftest import ROUTER_KEY, outcome
from tests.fakes.discord.permissions import Perm
from tests.fakes.router import FakeRouter, Fault

pytestmark = pytest.mark.timeout(90)
KINDS = ("requesty", "openai", "openrouter", "litellm")
FLUX = "black-forest-labs/flux.2-pro"  # OpenRouter lists it as image-only output


@pytest.fixture(params=KINDS)
async def router(request, monkeypatch):
    monkeypatch.setenv("ROUTER_KIND", request.param)
    async with FakeRouter(api_keys=(ROUTER_KEY,), kind=request.param) as fake_router:
        yield fake_router


def fields_of(message):
    return {f["name"]: f["value"] for f in message.embeds[0].get("fields", [])}


def attributed(kind: str, body: dict, guild_id: int, job_id: int, user_id: int) -> bool:
    """Server and job ids where the router takes them (Requesty/LiteLLM metadata, OpenRouter user)."""
    if kind == "openrouter":
        return body["user"] == f"easel:server:{guild_id}:job:{job_id}"
    if kind == "openai":
        return body["user"] == str(user_id)
    meta = body["requesty" if kind == "requesty" else "metadata"]
    return f"server:{guild_id}" in meta["tags"] and meta["trace_id"] == f"job-{job_id}"


async def test_imagine_on_each_router_shows_the_image_and_its_cost(easel, world, router):
    fake, guild, channel, alice, _bob = world
    assert easel.bot.service.catalog.live  # read from the router at start-up
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "a red fox"})
    message = await outcome(fake, handle)
    assert message.attachments, message.embeds
    with Image.open(io.BytesIO(message.attachments[0].data)) as im:
        assert im.format == "PNG" and min(im.size) >= 1024
    assert fields_of(message)["Cost"].startswith("$")
    await easel.idle()
    job = (await easel.store.jobs_with_status(JobStatus.DONE))[-1]
    asked = [r for r in router.requests if r.method == "POST"][-1]
    assert attributed(router.mode.kind, asked.body, guild.id, job.id, alice.id)


async def test_easel_models_lists_what_the_router_offers(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    handle = await fake.slash(alice, channel, "easel-models")
    message = await outcome(fake, handle)
    text = message.embeds[0]["description"]
    assert f"Router: {router.mode.kind}, from the router's list" in text
    offered = router.mode.images_models | router.mode.chat_models
    assert all(model in text for model in offered)
    assert "gpt-4o-mini" not in text  # listed by the router, but it draws nothing
    assert "/image" in text or "price not known" in text


@pytest.mark.parametrize("router", ["openrouter"], indirect=True)
async def test_openrouter_image_only_model_from_the_live_list(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    choices = await fake.autocomplete(
        alice, channel, "imagine", {"prompt": "x", "model": "flux"}, focused="model"
    )
    assert [c["value"] for c in choices] == [FLUX]
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "a kite", "model": FLUX})
    message = await outcome(fake, handle)
    assert message.attachments, message.embeds
    chat = [r for r in router.requests if r.path.endswith("/chat/completions")][-1]
    assert chat.body["modalities"] == ["image"]  # from architecture.output_modalities


@pytest.mark.parametrize("router", ["openrouter"], indirect=True)
async def test_openrouter_flagged_input_is_a_refusal_with_the_prompt_kept(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    router.add_fault(Fault("refusal", endpoint="chat"))
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "a forbidden thing"})
    message = await outcome(fake, handle)
    assert "a forbidden thing" in str(message.embeds[0])  # the prompt is shown back
    assert any(cid.startswith("easel:retry:") for cid in message.custom_ids())
    await easel.idle()
    job = (await easel.store.jobs_with_status(JobStatus.FAILED))[-1]
    assert job.error_code == "refused"


@pytest.mark.parametrize("router", ["requesty"], indirect=True)
async def test_refresh_needs_manage_server_and_falls_back_when_models_fails(easel, world, router):
    fake, guild, channel, alice, _bob = world
    refused = await fake.slash(alice, channel, "easel-models", {"refresh": True})
    await refused.wait_ack(3)
    assert "Manage Server" in str(refused.responses[-1])
    assert easel.bot.service.catalog.live
    mods = fake.create_role(guild, "admins", Perm.MANAGE_GUILD)
    carol = fake.create_user("carol", guild=guild, roles=(mods,))
    router.add_fault(Fault("status", endpoint="/models", status=500, times=5))
    handle = await fake.slash(carol, channel, "easel-models", {"refresh": True})
    text = (await outcome(fake, handle)).embeds[0]["description"]
    assert "model list failed" in text and "built-in list" in text
    assert "azure/openai/gpt-image-1" in text
    assert not easel.bot.service.catalog.live
    # Nothing else is lost: /imagine still runs on the built-in catalog.
    made = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "a fox"}))
    assert made.attachments


@pytest.mark.parametrize("router", ["litellm"], indirect=True)
async def test_models_failing_at_start_up_uses_the_built_in_catalog(easel, world, router):
    fake, _guild, channel, alice, _bob = world
    router.add_fault(Fault("status", endpoint="/models", status=503, times=10))
    await easel.restart()
    assert not easel.bot.service.catalog.live
    choices = await fake.autocomplete(
        alice, channel, "imagine", {"prompt": "x", "model": "gemini"}, focused="model"
    )
    assert "gemini/gemini-3-pro-image-preview" in [c["value"] for c in choices]
    made = await outcome(fake, await fake.slash(alice, channel, "imagine", {"prompt": "a fox"}))
    assert made.attachments and fields_of(made)["Cost"].startswith("$")


@pytest.mark.parametrize("router", ["openrouter"], indirect=True)
async def test_openrouter_without_modalities_answers_in_words_only(
    easel, world, router, monkeypatch
):
    """What Easel did before ROUTER_KIND: a chat call without modalities draws nothing there."""
    fake, _guild, channel, alice, _bob = world
    monkeypatch.setenv("ROUTER_KIND", "openai")  # a kind that sends no modalities
    monkeypatch.setenv("IMAGINE_MODEL", "google/gemini-2.5-flash-image")
    await easel.restart()
    handle = await fake.slash(alice, channel, "imagine", {"prompt": "a red fox"})
    message = await outcome(fake, handle)
    assert not message.attachments and "without an image" in str(message.embeds[0])
    chat = [r for r in router.requests if r.path.endswith("/chat/completions")][-1]
    assert "modalities" not in chat.body


@pytest.mark.parametrize("router", ["requesty"], indirect=True)
async def test_easel_models_shows_only_what_the_server_allows(easel, world, router):
    fake, guild, channel, alice, _bob = world
    offered = sorted(router.mode.images_models | router.mode.chat_models)
    kept = offered[0]
    await easel.bot.service.policy.change(
        str(guild.id), lambda rules: dataclasses.replace(rules, models=(kept,))
    )
    message = await outcome(fake, await fake.slash(alice, channel, "easel-models"))
    text = message.embeds[0]["description"]
    assert "This server allows only these models." in text
    listed = [line for line in text.splitlines() if line.startswith("• ")]
    assert len(listed) == 1 and kept in listed[0], listed
