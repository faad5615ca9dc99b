"""Router profiles, the live catalog's join and the prices: plain functions, no network."""

from __future__ import annotations

import pytest

from bot.calls import Called, priced
from bot.catalog import Catalog
from bot.config import load_settings
from bot.domain import ApiFamily, ImageSpec, RouterResult, Usage
from bot.known_models import builtin_for
from bot.live_catalog import join
from bot.router import bodies
from bot.router.profiles import PROFILES, Attribution, guess_kind


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("https://router.requesty.ai/v1", "requesty"),
        ("https://openrouter.ai/api/v1", "openrouter"),
        ("https://api.openai.com/v1", "openai"),
        ("http://litellm.internal:8000/v1", "litellm"),
        ("http://10.0.0.5:4000/v1", "litellm"),
        ("https://my-proxy.example.com/v1", "requesty"),
    ],
)
def test_kind_is_guessed_from_the_host(url, kind):
    assert guess_kind(url) == kind


def test_settings_take_the_kinds_default_models():
    settings = load_settings(_env_file=None, router_base_url="https://openrouter.ai/api/v1")
    assert settings.kind == "openrouter" and not settings.router_kind
    assert settings.imagine_model == "google/gemini-2.5-flash-image"
    explicit = load_settings(_env_file=None, router_kind="OpenAI", imagine_model="gpt-image-1.5")
    assert explicit.kind == "openai" and explicit.imagine_model == "gpt-image-1.5"


def test_an_unknown_kind_is_a_config_error():
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match="ROUTER_KIND"):
        load_settings(_env_file=None, router_kind="azure")


def test_openai_gets_no_response_format_and_requesty_does():
    spec = ImageSpec(model="gpt-image-1", n=1)
    assert "response_format" not in bodies.images_body(PROFILES["openai"], "x", spec, None)
    body = bodies.images_body(PROFILES["requesty"], "x", spec, None)
    assert body["response_format"] == "b64_json"


def test_attribution_per_kind():
    who = Attribution(user_id="42", server_id="7", job_id=9)
    assert PROFILES["openrouter"].request_fields(who) == {"user": "easel:server:7:job:9"}
    requesty = PROFILES["requesty"].request_fields(who)
    assert requesty["user"] == "42" and requesty["requesty"]["trace_id"] == "job-9"
    assert "server:7" in PROFILES["litellm"].request_fields(who)["metadata"]["tags"]
    assert PROFILES["requesty"].request_fields(who, form=True) == {"user": "42"}


def test_join_uses_output_modalities_over_the_name():
    known = {m.id: m for m in builtin_for("openrouter")}
    entries = [
        {"id": "google/gemini-2.5-flash", "architecture": {"output_modalities": ["text"]}},
        {"id": "acme/painter", "architecture": {"output_modalities": ["image"]}},
        {
            "id": "google/gemini-2.5-flash-image",
            "architecture": {"output_modalities": ["image", "text"]},
            "pricing": {"image_output": "0.00004"},
        },
    ]
    models = {m.id: m for m in join(entries, known, images_api=False)}
    assert set(models) == {"acme/painter", "google/gemini-2.5-flash-image"}
    assert models["acme/painter"].family is ApiFamily.CHAT
    assert models["acme/painter"].outputs == ("image",)
    # the live price: image_output per token times the tokens one image takes
    assert models["google/gemini-2.5-flash-image"].price_per_image() == pytest.approx(0.0516)


def test_catalog_offers_the_live_list_and_still_knows_the_rest():
    catalog = Catalog(builtin_for("requesty"))
    catalog.set_offered([catalog.get("azure/openai/gpt-image-1")])
    assert [m.id for m in catalog] == ["azure/openai/gpt-image-1"]
    assert not catalog.offers("gpt-image-1") and "gpt-image-1" in catalog
    assert catalog.get("gpt-image-1").label == "GPT Image 1 (OpenAI)"
    catalog.set_offered(None)
    assert catalog.offers("gpt-image-1") and not catalog.live


def test_prices_per_image_and_from_tokens():
    model = Catalog(builtin_for("openai")).get("gpt-image-1")
    assert model.price_per_image() == pytest.approx(0.0422, abs=1e-4)
    assert model.price_per_image(quality="high", size="1536x1024") == pytest.approx(0.2483, 1e-3)
    usage = Usage(input_tokens=110, output_tokens=1056, input_image_tokens=100)
    called = Called(RouterResult(images=(), usage=usage))
    cost = priced(called, model, ImageSpec(model=model.id), True).result.usage
    assert cost is not None and cost.cost == pytest.approx((10 * 5 + 100 * 10 + 1056 * 40) / 1e6)
    unchanged = priced(called, model, ImageSpec(model=model.id), False).result.usage
    assert unchanged is not None and unchanged.cost is None
