"""Per-route rate-limit buckets and scripted 429s (topics/rate-limits.mdx).

Every API response carries ``X-RateLimit-*`` headers from a real counting bucket, keyed like
Discord's: the route template plus its major parameters (channel, guild, webhook+token).
Every response also has ``Via: 1.1 google``: discord.py treats a 429 without ``Via`` as a
Cloudflare ban and raises instead of retrying, so the header matters.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .errors import json_response

_MAJOR = ("channel_id", "guild_id", "webhook_id", "webhook_token")


@dataclass
class Injected:
    """A scripted 429 for requests whose path contains ``path``."""

    path: str
    times: int
    retry_after: float
    scope: str
    is_global: bool
    method: str | None


@dataclass
class _Window:
    started: float
    count: int = 0


class RateLimiter:
    """Counts requests per bucket and hands out headers or 429s."""

    def __init__(self, *, limit: int = 50, window: float = 1.0) -> None:
        self.limit = limit
        self.window = window
        self._windows: dict[str, _Window] = {}
        self._injected: list[Injected] = []
        self.limited: list[tuple[str, str]] = []  # (method, path) of every 429 returned

    def inject(self, injected: Injected) -> None:
        self._injected.append(injected)

    def check(self, request: web.Request) -> tuple[web.Response | None, dict[str, str]]:
        """A 429 response to send instead of handling, or None plus the headers to add."""
        template, key = _bucket(request)
        bucket_hash = hashlib.sha1(template.encode()).hexdigest()[:16]
        injected = self._take_injected(request)
        if injected is not None:
            return self._too_many(request, bucket_hash, injected), {}
        now = time.time()
        window = self._windows.get(key)
        if window is None or now >= window.started + self.window:
            window = self._windows[key] = _Window(now)
        window.count += 1
        headers = self._headers(window, bucket_hash, now)
        if window.count > self.limit:
            retry = window.started + self.window - now
            real = Injected(request.path, 1, retry, "user", False, None)
            return self._too_many(request, bucket_hash, real), {}
        return None, headers

    def _take_injected(self, request: web.Request) -> Injected | None:
        for injected in self._injected:
            if injected.path in request.path and injected.method in (None, request.method):
                injected.times -= 1
                if injected.times <= 0:
                    self._injected.remove(injected)
                return injected
        return None

    def _headers(self, window: _Window, bucket_hash: str, now: float) -> dict[str, str]:
        reset = window.started + self.window
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - window.count)),
            "X-RateLimit-Reset": f"{reset:.3f}",
            "X-RateLimit-Reset-After": f"{max(0.0, reset - now):.3f}",
            "X-RateLimit-Bucket": bucket_hash,
        }

    def _too_many(self, request: web.Request, bucket_hash: str, injected: Injected) -> web.Response:
        self.limited.append((request.method, request.path))
        body: dict[str, Any] = {
            "message": "You are being rate limited.",
            "retry_after": injected.retry_after,
            "global": injected.is_global,
        }
        if injected.is_global:
            body["code"] = 0
        headers = {
            "Retry-After": str(math.ceil(injected.retry_after)),
            "X-RateLimit-Scope": injected.scope,
            "Via": "1.1 google",
        }
        if injected.is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            now = time.time()
            headers.update(
                {
                    "X-RateLimit-Limit": str(self.limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{now + injected.retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{injected.retry_after:.3f}",
                    "X-RateLimit-Bucket": bucket_hash,
                }
            )
        return json_response(body, status=429, headers=headers)


def _bucket(request: web.Request) -> tuple[str, str]:
    """(route template, bucket key): the template with only major parameters filled in."""
    resource = request.match_info.route.resource
    template = f"{request.method} {resource.canonical if resource else request.path}"
    major = "+".join(request.match_info[k] for k in _MAJOR if k in request.match_info)
    return template, f"{template}:{major}"
