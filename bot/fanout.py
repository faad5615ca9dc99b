"""Chat image models answer one image a call, so ``n`` images are ``n`` calls at once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from bot.domain import GeneratedImage, ImageSpec, RouterResult, Usage
from bot.router import RouterClient


async def chat_n(
    router: RouterClient,
    model: str,
    messages: list[dict[str, Any]],
    spec: ImageSpec,
    *,
    user: str | None = None,
) -> RouterResult:
    """``spec.n`` chat calls; the answers that came back, or the first error if none did."""
    calls = [
        router.chat(
            model, messages, aspect_ratio=spec.aspect_ratio, image_size=spec.resolution, user=user
        )
        for _ in range(spec.n)
    ]
    results = await asyncio.gather(*calls, return_exceptions=True)
    good = [r for r in results if isinstance(r, RouterResult)]
    if not good:
        first = results[0]
        assert isinstance(first, BaseException)
        raise first
    return merge(good)


def merge(results: Sequence[RouterResult]) -> RouterResult:
    """Combine several one-image answers into one result; costs add up."""
    all_images: list[GeneratedImage] = [img for r in results for img in r.images]
    costs = [r.usage.cost for r in results if r.usage and r.usage.cost is not None]
    texts = [r.text for r in results if r.text]
    first = results[0]
    return RouterResult(
        images=tuple(all_images),
        text=texts[0] if texts else None,
        reasoning_details=first.reasoning_details,
        model=first.model,
        usage=Usage(cost=sum(costs)) if costs else first.usage,
        finish_reason=first.finish_reason,
    )
