"""Starting the bot: ``python -m bot`` (``run_bot``) and ``python -m bot sync``
(``sync_commands``), with every failure to start as one ConfigError line (exit 2)."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import aiohttp
import discord
import yarl

from bot.app import EaselBot, make_bot
from bot.config import Settings, missing_for_bot
from bot.errors import ConfigError
from bot.jobs import JobQueue
from bot.memory import MIB
from bot.service import ImageService
from bot.workers import claim_lease


def point_discord_at(settings: Settings) -> None:
    """Send REST and gateway traffic to a proxy or a test server instead of discord.com."""
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


def run_bot(settings: Settings) -> int:
    """Entry point for ``python -m bot``: returns the exit status."""
    missing = missing_for_bot(settings)
    if missing:
        raise ConfigError("; ".join(missing))
    point_discord_at(settings)
    return asyncio.run(_serve(settings, settings.token()))


def sync_commands(settings: Settings) -> int:
    """``python -m bot sync``: log in over REST, sync the command tree whatever its hash, exit."""
    token = settings.token()
    point_discord_at(settings)
    return asyncio.run(_sync(settings, token))


async def _sync(settings: Settings, token: str) -> int:
    async with ImageService.open(settings) as service:
        queue = JobQueue(service, max_concurrent=1, max_per_user=1)  # never started
        async with EaselBot(settings, service, queue) as bot:
            bot.sync_only = True
            await _start(bot, token, login_only=True)
    return 0


async def _serve(settings: Settings, token: str) -> int:
    async with ImageService.open(settings) as service:
        # Before logging in, so that a second process with this id resumes nothing.
        await claim_lease(service.store, settings.worker_id)
        queue = JobQueue(
            service,
            max_concurrent=settings.max_concurrent_jobs,
            max_per_user=settings.max_jobs_per_user,
            memory_budget=settings.max_image_memory_mb * MIB,
        )
        async with make_bot(settings, service, queue) as bot:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, lambda: asyncio.ensure_future(bot.close()))
            await _start(bot, token)
    return 0


async def _start(bot: EaselBot, token: str, *, login_only: bool = False) -> None:
    """Log in and run until closed; what stops a start is one ConfigError line."""
    try:
        await (bot.login(token) if login_only else bot.start(token))
    except discord.LoginFailure:
        raise ConfigError(
            "Discord refused DISCORD_TOKEN; copy it again from the "
            "Developer Portal (Bot → Reset Token)."
        ) from None
    except discord.PrivilegedIntentsRequired:
        raise ConfigError(
            "Enable the Message Content intent for the bot in the Developer "
            "Portal (Bot → Privileged Gateway Intents)."
        ) from None
    except (OSError, aiohttp.ClientError) as exc:
        cause = getattr(exc, "os_error", None) or exc
        reason = getattr(cause, "strerror", None) or type(cause).__name__
        raise ConfigError(
            f"Can't reach Discord at {bot.settings.discord_api} ({reason}): check the network "
            "connection, a proxy or firewall, or DISCORD_API_BASE."
        ) from None
