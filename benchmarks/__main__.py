"""``make bench``: every benchmark in one run, each printed as ratios against its own baseline,
then the keyed figures written to ``benchmarks/results.json`` (``benchmarks/results.py``)."""

from typing import Any

from benchmarks import (
    conversation,
    core,
    discord,
    fit,
    floor,
    memory,
    progress,
    queue,
    results,
    scale,
    store_lookups,
)

PARTS = (
    ("fit", "fitting a 4K photo-like PNG under 10 MiB (benchmarks/fit.py)", fit.main),
    (
        "floor",
        "CPU of one 4K job vs a minimal script's (benchmarks/floor.py)",
        floor.main,
    ),
    ("core", "service overhead and event-loop lag (benchmarks/core.py)", core.main),
    (
        "discord",
        "the bot under load: defer latency and loop lag (benchmarks/discord.py)",
        discord.main,
    ),
    (
        "conversation",
        "a 20-turn refine context with 4K images vs 1 turn (benchmarks/conversation.py)",
        conversation.main,
    ),
    (
        "queue",
        "the queue's bookkeeping at 10k and 100k waiting jobs (benchmarks/queue.py)",
        queue.main,
    ),
    (
        "progress",
        "progress edits at 10k and 100k waiting jobs in 50 channels (benchmarks/progress.py)",
        progress.main,
    ),
    (
        "store_lookups",
        "the store's lookups at 1k and 100k jobs (benchmarks/store_lookups.py)",
        store_lookups.main,
    ),
    (
        "memory",
        "peak resident memory: 20 queued 4K jobs, 6 big GIF inputs (benchmarks/memory.py)",
        memory.main,
    ),
    (
        "scale",
        "scaling out on PostgreSQL: 1 vs 2 workers, claims at 10k and 1M jobs (benchmarks/scale.py)",
        scale.main,
    ),
)


def main() -> None:
    found: dict[str, Any] = {}
    for key, title, run in PARTS:
        print(f"\n== {title}")
        found[key] = run()
    results.write(found)


if __name__ == "__main__":
    main()
