"""The cost of building a 20-turn refine context with 4K images against a 1-turn one, in the
same run.

The 20-turn conversation is 10 user turns (text) and 10 assistant turns, each assistant turn
carrying one distinct 4K image (``benchmarks.fit.photo_png``, 5504x3072, about 36 MB, one byte
changed per copy so the store keeps ten files) and a small ``reasoning_details``. The 1-turn
conversation is one user turn with one such image. Each is built into the next turn with a text
instruction, once with a budget large enough that nothing is trimmed and once with the default
``Budget`` (20 turns, 40 MiB of images), which trims.

1. The old way, for comparison: ``conversation.build`` alone with the history in memory as
   data URLs: time (best of REPEATS), tracemalloc peak, and the JSON body as one string
   (``bot.router.client._dumps``: size, time, tracemalloc peak).
2. The bot's own path through a real sqlite ``Store``: ``TurnContexts.build`` (stored images as
   references to their base64 caches, ``bot.storage.encoded``), then the chat body as
   ``RouterClient.chat`` makes it (``bodies.chat_body``, ``bodies.StreamedBody``), read to its
   last byte as httpx would send it (best of REPEATS, caches and images in the page cache; the
   first run, which writes the caches, is reported apart). Against it, in the same run:
   ``base64.b64encode`` of the images that body sends (best of REPEATS), the floor any sender
   pays once. ``context20_vs_b64`` is the 20-turn unbounded ratio (issue #18, goal <= 1.5).

Part 1's figures are ratios 20-turn/1-turn, printed by ``benchmarks.conversation_report``.
tracemalloc counts Python allocations made during the measured call only; ``vm_hwm`` is the
process's peak resident memory at the end (part 1's whole-string bodies dominate it).

    python -m benchmarks.conversation
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks import conversation_report, fit
from benchmarks.common import service
from bot import conversation, media
from bot.catalog import ModelInfo
from bot.context import TurnContexts
from bot.conversation import Budget, Context, ContextTurn
from bot.domain import InputImage, Job, JobKind, JobStatus
from bot.router import bodies
from bot.router.client import _dumps
from bot.router.profiles import PROFILES
from bot.storage import Store

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


# -- 2. end to end through the store: the bot's own path --------------------------------------
async def _session(store: Store, turns: int, datas: Sequence[bytes], size: tuple[int, int]) -> int:
    session = await store.create_session(
        thread_id=None, channel_id=None, guild_id=None, owner_id="bench", model=MODEL, family="chat"
    )
    for role, text, i in shape(turns):
        hashes = [] if i is None else [(await store.put_image(datas[i], MIME, *size)).sha256]
        reasoning = REASONING if role == "assistant" else None
        await store.add_turn(
            session.id, role=role, text=text, images=hashes, reasoning_details=reasoning
        )
    return session.id


async def send_once(contexts: TurnContexts, job: Job, model: ModelInfo) -> dict[str, Any]:
    """What ``ImageService._refine`` and ``RouterClient.chat`` do before the network: build the
    turn's context, make the streamed body, and read it to the end (as httpx would send it)."""
    start = time.perf_counter()
    call = await contexts.build(job, model, [])
    built = time.perf_counter()
    assert call.messages is not None
    body = bodies.chat_body(
        PROFILES["requesty"],
        MODEL,
        call.messages,
        aspect_ratio=None,
        image_size=None,
        modalities=None,
        who=None,
    )
    streamed = await asyncio.to_thread(bodies.StreamedBody, body)
    content, sent = streamed.content(), 0
    if isinstance(content, bytes):
        sent = len(content)
    else:
        async for chunk in content:
            sent += len(chunk)
    end = time.perf_counter()
    assert sent == streamed.length
    return {
        "seconds": end - start,
        "build_seconds": built - start,
        "body_seconds": end - built,
        "body_bytes": sent,
        "images_sent": images_sent_in(call.messages),
        "streamed": [image.sha256 for image in streamed.images],
    }


def images_sent_in(messages: list[dict[str, Any]]) -> int:
    return images_sent(Context(messages))


async def end_to_end(datas: Sequence[bytes], width: int, height: int) -> dict[str, Any]:
    """``TurnContexts.build`` + the streamed body through a real sqlite store, against
    base64-encoding the images that body sends, in the same run."""
    result: dict[str, Any] = {}
    by_hash = {hashlib.sha256(d).hexdigest(): d for d in datas}
    async with service(UNUSED_ROUTER) as svc:
        model = svc.catalog.get(MODEL)
        sessions = {t: await _session(svc.store, t, datas, (width, height)) for t in (1, TURNS)}
        for name, budget in BUDGETS.items():
            contexts = TurnContexts(svc.store, budget)
            for turns, session_id in sessions.items():
                job = Job(0, JobKind.REFINE, PROMPT, {}, JobStatus.RUNNING, session_id=session_id)
                first = await send_once(contexts, job, model)  # makes any base64 cache missing
                runs = [await send_once(contexts, job, model) for _ in range(REPEATS)]
                tracemalloc.start()
                try:
                    await send_once(contexts, job, model)
                    peak = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
                sent = [by_hash[h] for h in first["streamed"]]
                b64 = best_time(lambda sent=sent: [base64.b64encode(d) for d in sent])
                best = min(runs, key=lambda r: r["seconds"])
                result[f"{turns}-turn {name}"] = {
                    **{k: v for k, v in best.items() if k != "streamed"},
                    "first_seconds": first["seconds"],
                    "traced_peak": peak,
                    "image_bytes_sent": sum(map(len, sent)),
                    "b64_seconds": b64,
                    "vs_b64": best["seconds"] / b64 if b64 else None,
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
    bot_path = e2e[f"{TURNS}-turn unbounded"]
    ratios: dict[str, Any] = {}
    for part, figures in (("build", builds), ("end_to_end", e2e)):
        for name in BUDGETS:
            big, small = figures[f"{TURNS}-turn {name}"], figures[f"1-turn {name}"]
            keys = ("seconds", "traced_peak", "body_bytes")
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
        "context20_vs_b64": bot_path["vs_b64"],
        "vm_hwm": vm_hwm(),
    }


def vm_hwm() -> int | None:
    """The process's peak resident memory so far (Linux), in bytes."""
    try:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return None
    return int(line.split()[1]) * 1024


def main() -> dict[str, Any]:
    result = run()
    conversation_report.show(result)
    return result


if __name__ == "__main__":
    main()
