"""Large answers parsed, and their images checked, in a worker process (``bot.offload``).

``decoding`` does the work; this module decides where. An answer or download under the
threshold goes to the decoding thread as before. A larger one goes to a worker process, which
parses it and checks each image it carries; what comes back is the parsed answer with each
image already checked (an ``Inline`` whose ``checked`` is the image, or the ``BadResponse`` it
gave, raised only if that image is used), so the answer readers see no difference.
"""

from __future__ import annotations

from typing import Any

from bot import offload, spool
from bot.domain import GeneratedImage
from bot.errors import BadResponse
from bot.router import decoding

CRASHED = "I couldn't read the image service's answer: the process reading it stopped. Try again."


async def loads(body: bytes | spool.Spooled) -> Any:
    """``decoding.loads`` off the loop; for a large answer, with its images checked too."""
    if isinstance(body, bytes) and not offload.offloads(len(body)):
        return await decoding.off_loop(decoding.loads, body)
    return _as_inline(await _run(loads_checked, body))


async def checked_image(body: bytes | spool.Spooled) -> GeneratedImage:
    """``decoding.checked_image`` (a downloaded image) off the loop."""
    image: GeneratedImage = await _run(decoding.checked_image, body)
    return image


async def _run(func: Any, body: bytes | spool.Spooled) -> Any:
    try:
        return await offload.run(func, body, thread=decoding.DECODER)
    except offload.WorkerDied as exc:
        raise BadResponse(CRASHED, detail=str(exc)) from exc


# -- in the worker process ------------------------------------------------------------------------


def loads_checked(body: bytes) -> Any:
    """The parsed answer with each cut-out image checked: a ``GeneratedImage`` or its error."""
    return _checked(decoding.loads(body))


def _checked(node: Any) -> Any:
    if isinstance(node, decoding.Inline):
        try:
            return decoding.checked_inline(node)
        except BadResponse as exc:
            return exc.with_traceback(None)
    if isinstance(node, dict):
        return {key: _checked(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_checked(value) for value in node]
    return node


# -- back in the bot ------------------------------------------------------------------------------


def _as_inline(node: Any) -> Any:
    """Each checked image (or its error) as the ``Inline`` the answer readers take."""
    if isinstance(node, GeneratedImage | BadResponse):
        return decoding.Inline(b"", memoryview(b""), checked=node)
    if isinstance(node, dict):
        return {key: _as_inline(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_as_inline(value) for value in node]
    return node
