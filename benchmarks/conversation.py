"""The cost of building a 20-turn refine context with 4K images against a 1-turn one, in the
same run.

The 20-turn conversation is 10 user turns (text) and 10 assistant turns, each assistant turn
carrying one distinct 4K image (``benchmarks.fit.photo_png``, 5504x3072, about 36 MB, one byte
changed per copy so the store keeps ten files) and a small ``reasoning_details``. The 1-turn
conversation is one user turn with one such image. Each is built into the next turn with a text
instruction, once with a budget large enough that nothing is trimmed and once with the default
``Budget`` (20 turns, 40 MiB of images), which trims.

1. ``conversation.build`` alone, history in memory: time (best of REPEATS), tracemalloc peak,
   and the JSON body the router sends (``bot.router._dumps``: size, time, tracemalloc peak).
2. End to end through a real sqlite ``Store``: ``ImageService.history`` then
   ``conversation.build`` in a thread, as ``ImageService._call_refine`` does (best of REPEATS;
   the image files are in the page cache). The router is never called; "+body peak" also
   serialises the body with ``router._dumps`` while history and context are still held, as
   during ``router.chat`` in ``_call_refine``.

Figures are ratios 20-turn/1-turn, printed by ``benchmarks.conversation_report``. tracemalloc
counts Python allocations made during the measured call only (the in-memory history of part 1
is not counted; part 2 counts the loaded image bytes too).

    python -m benchmarks.conversation
"""

from __future__ import annotations

import asyncio
import base64
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks import conversation_report, fit
from benchmarks.common import service
from bot import conversation, media
from bot.conversation import Budget, Context, ContextTurn
from bot.domain import InputImage
from bot.router.client import _dumps

TURNS = 20
REPEATS = 3
MIME = "image/png"
MODEL = "vertex/google/gemini-3-pro-image-preview"
PROMPT = "make the sky a little warmer"
UNBOUNDED = Budget(max_turns=10_000, max_image_bytes=1 << 40)
BUDGETS = {"unbounded": UNBOUNDED, "default": Budget()}
UNUSED_ROUTER = "http://127.0.0.1:9/v1"  # ImageService needs a RouterClient; it is never called
REASONING = [{"type": "reasoning.encrypted", "format": "google-gemini-v1", "data": "A" * 4096}]

Shape = list[tuple[str, str, int | None]]  # (role, text, index of its image or None)


def shape(turns: int) -> Shape:
    """1 turn: a user turn with an image. More: user text, then an assistant turn with an image."""
    if turns == 1:
        return [("user", "make this photo look like a postcard", 0)]
    rows: Shape = []
    for i in range(turns // 2):
        rows.append(("user", f"a lighthouse at dusk, change {i}", None))
        rows.append(("assistant", f"Here is version {i + 1}.", i))
    return rows


def payloads(base: bytes, count: int) -> list[bytes]:
    """``count`` distinct images the size of ``base``: one byte in the middle differs."""
    mid = len(base) // 2
    return [base[:mid] + bytes([(base[mid] + i) % 256]) + base[mid + 1 :] for i in range(count)]


def history_of(rows: Shape, datas: Sequence[bytes]) -> list[ContextTurn]:
    return [
        ContextTurn(
            role,
            text,
            () if i is None else (InputImage(datas[i], MIME),),
            REASONING if role == "assistant" else None,
        )
        for role, text, i in rows
    ]


def images_sent(context: Context) -> int:
    count = 0
    for message in context.messages:
        content = message.get("content")
        parts = [*message.get("images", []), *(content if isinstance(content, list) else [])]
        count += sum(1 for p in parts if p.get("type") == "image_url")
    return count


def best_time(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def traced_peak(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- 1. the builder alone ----------------------------------------------------------------------
def measure_build(history: Sequence[ContextTurn], budget: Budget) -> dict[str, Any]:
    def build() -> Context:
        return conversation.build(history, PROMPT, (), budget)

    seconds = best_time(build)
    peak = traced_peak(build)
    context = build()
    body = {"model": MODEL, "messages": context.messages}
    result = {
        "seconds": seconds,
        "traced_peak": peak,
        "turns_sent": context.used_turns,
        "turns_dropped": context.dropped_turns,
        "images_sent": images_sent(context),
        "body_bytes": len(_dumps(body)),
        "dumps_seconds": best_time(lambda: _dumps(body)),
        "dumps_peak": traced_peak(lambda: _dumps(body)),
    }
    return result


def data_url_cost(data: bytes) -> dict[str, Any]:
    """What ``media.data_url`` costs for one image against a bare ``b64encode``."""
    image = InputImage(data, MIME)
    return {
        "encoded_bytes": len(base64.b64encode(data)),
        "data_url_seconds": best_time(lambda: media.data_url(image)),
        "data_url_peak": traced_peak(lambda: media.data_url(image)),
        "b64encode_seconds": best_time(lambda: base64.b64encode(data)),
        "b64encode_peak": traced_peak(lambda: base64.b64encode(data)),
    }


# -- 2. end to end through the store -----------------------------------------------------------
async def end_to_end(datas: Sequence[bytes], width: int, height: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    async with service(UNUSED_ROUTER) as svc:
        store = svc.store
        sessions: dict[int, int] = {}
        for turns in (1, TURNS):
            session = await store.create_session(
                thread_id=None,
                channel_id=None,
                guild_id=None,
                owner_id="bench",
                model=MODEL,
                family="chat",
            )
            for role, text, i in shape(turns):
                hashes = []
                if i is not None:
                    hashes.append((await store.put_image(datas[i], MIME, width, height)).sha256)
                await store.add_turn(
                    session.id,
                    role=role,
                    text=text,
                    images=hashes,
                    reasoning_details=REASONING if role == "assistant" else None,
                )
            sessions[turns] = session.id

        for name, budget in BUDGETS.items():
            for turns, session_id in sessions.items():
                history_times, build_times, totals = [], [], []
                loaded = sent = 0
                for _ in range(REPEATS + 1):  # the first round warms the store
                    start = time.perf_counter()
                    history = await svc.sessions.history(session_id)
                    loaded_at = time.perf_counter()
                    context = await asyncio.to_thread(
                        conversation.build, history, PROMPT, (), budget
                    )
                    end = time.perf_counter()
                    history_times.append(loaded_at - start)
                    build_times.append(end - loaded_at)
                    totals.append(end - start)
                    loaded = sum(len(i.data) for t in history for i in t.images)
                    sent = images_sent(context)
                    del history, context
                tracemalloc.start()
                try:
                    history = await svc.sessions.history(session_id)
                    context = await asyncio.to_thread(
                        conversation.build, history, PROMPT, (), budget
                    )
                    peak = tracemalloc.get_traced_memory()[1]
                    # _call_refine still holds history and context while the router serialises.
                    body = {"model": MODEL, "messages": context.messages}
                    await asyncio.to_thread(_dumps, body)
                    peak_sent = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
                del history, context, body
                result[f"{turns}-turn {name}"] = {
                    "seconds": min(totals[1:]),
                    "history_seconds": min(history_times[1:]),
                    "build_seconds": min(build_times[1:]),
                    "traced_peak": peak,
                    "traced_peak_with_body": peak_sent,
                    "image_bytes_loaded": loaded,
                    "images_sent": sent,
                }
    return result


def run() -> dict[str, Any]:
    base = fit.photo_png()
    width, height = fit.SIZE
    datas = payloads(base, TURNS // 2)
    del base
    builds: dict[str, Any] = {}
    for name, budget in BUDGETS.items():
        for turns in (1, TURNS):
            history = history_of(shape(turns), datas)
            builds[f"{turns}-turn {name}"] = measure_build(history, budget)
            del history
    e2e = asyncio.run(end_to_end(datas, width, height))
    ratios: dict[str, Any] = {}
    for part, figures in (("build", builds), ("end_to_end", e2e)):
        for name in BUDGETS:
            big, small = figures[f"{TURNS}-turn {name}"], figures[f"1-turn {name}"]
            keys = ("seconds", "traced_peak", "traced_peak_with_body", "body_bytes")
            ratios[f"{part} {name}"] = {k: big[k] / small[k] for k in keys if k in big}
    return {
        "image": {"size": (width, height), "bytes": len(datas[0]), "count": len(datas)},
        "turns": TURNS,
        "budgets": list(BUDGETS),
        "repeats": REPEATS,
        "build": builds,
        "end_to_end": e2e,
        "ratios": ratios,
        "data_url": data_url_cost(datas[0]),
    }


def main() -> None:
    conversation_report.show(run())


if __name__ == "__main__":
    main()
