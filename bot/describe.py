"""/describe: four candidate prompts for an image, from a chat model asked for words only.

A chat answer without an image is ``NoImage`` to the router client, with the model's text
kept on it; here that text is the answer."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from bot.domain import InputImage, RouterResult
from bot.errors import NoImage
from bot.router import RouterClient
from bot.router.profiles import Attribution

COUNT = 4
INSTRUCTION = (
    "Describe this image as four different prompts an image model could recreate it from: "
    "subject, setting, style, lighting and composition. Answer with exactly four lines "
    "numbered 1. to 4., one prompt each, and nothing else."
)
_NUMBERED = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s*(?P<text>.+?)\s*$")


async def run(
    router: RouterClient, model: str, images: Sequence[InputImage], who: Attribution | None
) -> RouterResult:
    """The model's four prompts as the result's text; no images."""
    message = await asyncio.to_thread(RouterClient.user_message, INSTRUCTION, images)
    try:
        answer = await router.chat(model, [message], modalities=["text"], who=who)
    except NoImage as exc:
        if not exc.model_text:
            raise
        return RouterResult(images=(), text=exc.model_text, model=model)
    return RouterResult(images=(), text=answer.text, usage=answer.usage, model=model)


def prompts(text: str | None) -> list[str]:
    """The numbered prompts of an answer, at most four; unnumbered lines if it has none."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    numbered = [m["text"] for m in map(_NUMBERED.match, lines) if m]
    return (numbered or [line.strip() for line in lines])[:COUNT]
