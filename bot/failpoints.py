"""Named places in a job's life where a test can hold a real process, to kill it right there.

``EASEL_FAILPOINTS="answered:30,stored:30"`` makes a process that reaches "answered" (the router
answered; nothing is kept yet) or "stored" (the result is kept; nothing is posted yet) wait that
many seconds first. The crash tests set it on a ``python -m bot`` subprocess and ``kill -9`` it
there. Unset (always, outside tests) it costs one dictionary lookup.
"""

from __future__ import annotations

import asyncio
import logging
import os

log = logging.getLogger(__name__)


def _parse(text: str) -> dict[str, float]:
    points: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, seconds = item.partition(":")
        try:
            points[name.strip()] = float(seconds or 0)
        except ValueError:
            log.warning("EASEL_FAILPOINTS: %r is not name:seconds; ignored", item)
    return points


_POINTS = _parse(os.environ.get("EASEL_FAILPOINTS", ""))


async def reach(name: str) -> None:
    """Wait here if the environment asks to; else return at once."""
    seconds = _POINTS.get(name)
    if seconds:
        log.warning("failpoint %s: holding for %.0f s", name, seconds)
        await asyncio.sleep(seconds)
