"""The network checks of ``python -m bot check``: the router and Discord, each one function
returning ``Finding`` lines (a problem says what to change)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from bot.catalog import Catalog
from bot.config import Settings, application_id_from_token
from bot.errors import AuthFailed, ConfigError, RouterError, RouterPathNotFound, RouterUnavailable
from bot.known_models import builtin_for
from bot.live_catalog import default_models, describe, refresh
from bot.router import RouterClient
from bot.router.profiles import PROFILES

PROBE_TIMEOUT_S = 15.0
# GET /applications/@me "flags": the Message Content intent, enabled (verified apps) or limited.
GATEWAY_MESSAGE_CONTENT = 1 << 18
GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the report: something fine, or a problem saying what to change."""

    text: str
    problem: bool = False

    def __str__(self) -> str:
        return f"{'FIX' if self.problem else 'ok '}  {self.text}"


def ok(text: str) -> Finding:
    return Finding(text)


def fix(text: str) -> Finding:
    return Finding(text, problem=True)


async def check_router(settings: Settings) -> list[Finding]:
    """The router answers GET /models at ROUTER_BASE_URL, takes the key, offers the defaults."""
    url = settings.router_base_url
    key = settings.router_api_key.get_secret_value() if settings.router_api_key else ""
    timeout = min(settings.request_timeout, PROBE_TIMEOUT_S)
    profile = PROFILES[settings.kind]
    async with RouterClient(url, key, timeout=timeout, max_retries=0, profile=profile) as client:
        try:
            offered = await client.check()
        except RouterPathNotFound:
            return [
                fix(
                    f"ROUTER_BASE_URL: {url}/models answered 404; the base URL is the API's, "
                    "usually ending in /v1 (e.g. https://router.requesty.ai/v1)"
                )
            ]
        except RouterUnavailable as exc:
            return [
                fix(
                    f"ROUTER_BASE_URL: can't reach the router at {url} ({_reason(exc)}); "
                    "check the address and that the router is running"
                )
            ]
        except AuthFailed:
            return [
                fix(
                    f"ROUTER_API_KEY: the router at {url} refused the key; copy it again "
                    "from the router's dashboard"
                )
            ]
        except RouterError as exc:
            return [fix(f"ROUTER_BASE_URL: {url}/models answered: {exc.user_message}")]
        found = await _live(settings, client)
    accepted = "key accepted" if key else "key not checked (ROUTER_API_KEY is not set)"
    reached = ok(f"router {url}: reachable, {accepted} ({len(offered)} models listed)")
    return [
        reached,
        *found,
        *_default_models(
            settings,
            offered,
            Catalog.load(
                settings.catalog_file, builtin_for(settings.kind), images_api=profile.images_api
            ),
        ),
    ]


async def _live(settings: Settings, client: RouterClient) -> list[Finding]:
    """The router's kind and the image models its live list offers (or the built-in ones)."""
    catalog = Catalog.load(
        settings.catalog_file, builtin_for(settings.kind), images_api=client.profile.images_api
    )
    found = await refresh(catalog, client, default_models(settings))
    how = "ROUTER_KIND" if settings.router_kind else "guessed from the base URL"
    return [
        ok(f"router kind: {settings.kind} ({how})"),
        ok(
            f"it offers {found.offered} image model(s):"
            if found.live
            else f"its model list is unusable ({found.error}); the built-in catalog is used:"
        ),
        *(ok(f"  {describe(model)}") for model in catalog),
    ]


def _reason(exc: RouterUnavailable) -> str:
    """What went wrong, without the path: "ConnectError: [Errno 111] Connection refused"."""
    return (exc.detail or exc.user_message).split(": ", 1)[-1]


def _default_models(settings: Settings, offered: list[str], catalog: Catalog) -> list[Finding]:
    findings = []
    defaults = (
        ("IMAGINE_MODEL", settings.imagine_model),
        ("EDIT_MODEL", settings.edit_model),
        ("REFINE_MODEL", settings.refine_model),
    )
    # None of the defaults offered: more likely the wrong router kind than three wrong models.
    hint = _kind_hint(settings) if offered and all(m not in offered for _, m in defaults) else ""
    for variable, model_id in defaults:
        family = catalog.get(model_id).family.value
        if offered and model_id not in offered:
            same = [m for m in offered if catalog.get(m).family.value == family]
            example = f", e.g. {same[0]}" if same else ""
            findings.append(
                fix(
                    f"{variable}: the router doesn't offer {model_id}; set {variable} to a "
                    f"model it lists{example}{hint}"
                )
            )
        else:
            findings.append(ok(f"{variable.split('_')[0].lower():8} {model_id}: {family} API"))
    return findings


def _kind_hint(settings: Settings) -> str:
    """When the router kind was only guessed, the kind may be what is wrong, not the model."""
    if settings.router_kind:
        return ""
    return (
        f" (or set ROUTER_KIND: it was guessed as {settings.kind} from the base URL; "
        "openrouter, litellm and openai are the others)"
    )


async def check_discord(settings: Settings) -> list[Finding]:
    """Discord takes DISCORD_TOKEN, names the application and has Message Content enabled."""
    if settings.discord_token is None or not settings.discord_token.get_secret_value():
        return []  # the settings check said how to set it
    token = settings.discord_token.get_secret_value()
    try:
        application_id_from_token(token)
    except ConfigError as exc:
        return [fix(exc.user_message)]
    api = settings.discord_api
    try:
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
            answer = await client.get(
                f"{api}/applications/@me", headers={"Authorization": f"Bot {token}"}
            )
    except httpx.HTTPError as exc:
        return [
            fix(
                f"Discord: can't reach {api} ({type(exc).__name__}); check the network "
                "connection, a proxy or firewall, or DISCORD_API_BASE"
            )
        ]
    if answer.status_code == 401:
        return [
            fix(
                "DISCORD_TOKEN: Discord refused the token; copy a new one from the Developer "
                "Portal (Bot → Reset Token)"
            )
        ]
    if not answer.is_success:
        return [fix(f"Discord: {api}/applications/@me answered HTTP {answer.status_code}")]
    return _application(answer.json())


def _application(app: dict[str, object]) -> list[Finding]:
    app_id, name = app.get("id"), app.get("name")
    findings = [ok(f"Discord token accepted: application {name} (id {app_id})")]
    flags = app.get("flags")
    flags = flags if isinstance(flags, int) else 0
    if flags & (GATEWAY_MESSAGE_CONTENT | GATEWAY_MESSAGE_CONTENT_LIMITED):
        findings.append(ok("Discord: the Message Content intent is enabled"))
    else:
        findings.append(
            fix(
                "Discord: the Message Content intent is off; enable it at "
                f"https://discord.com/developers/applications/{app_id}/bot "
                "(Privileged Gateway Intents → Message Content)"
            )
        )
    return findings
