"""The router part of ``python -m bot check``: its kind, the live models, the defaults offered."""

from __future__ import annotations

from collections.abc import Callable

from bot.config import Settings
from bot.errors import EaselError
from bot.live_catalog import default_models, describe, refresh
from bot.service import ImageService

Say = Callable[[str], None]


async def check_router(service: ImageService, settings: Settings, say: Say, warn: Say) -> bool:
    """Print the router's kind and live models; False when the router or the key fails."""
    how = "guessed from the base URL" if not settings.router_kind else "ROUTER_KIND"
    say(f"Router kind: {settings.kind} ({how})")
    try:
        await service.router.check()
    except EaselError as exc:
        warn(f"Router check failed: {exc.user_message}")
        return False
    found = await refresh(service.catalog, service.router, default_models(settings))
    if found.live:
        say(f"Router reachable, key accepted; it offers {found.offered} image model(s):")
    else:
        say(f"Router reachable, key accepted; its model list is unusable ({found.error}).")
        say(f"Using the built-in catalog ({found.offered} models):")
    for model in service.catalog:
        say(f"  {describe(model)}")
    for role, model_id in default_models(settings).items():
        info = service.catalog.get(model_id)
        say(f"{role:8} {model_id}: {info.family.value} API")
    for warning in found.warnings():
        warn(f"Warning: {warning}")
    return True
