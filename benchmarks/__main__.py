"""``make bench``: every benchmark in one run, each printed as ratios against its own baseline."""

from benchmarks import conversation, core, discord, fit, memory, queue


def main() -> None:
    print("== fitting a 4K photo-like PNG under 10 MiB (benchmarks/fit.py)")
    fit.main()
    print("\n== service overhead and event-loop lag (benchmarks/core.py)")
    core.main()
    print("\n== the bot under load: defer latency and loop lag (benchmarks/discord.py)")
    discord.main()
    print("\n== a 20-turn refine context with 4K images vs 1 turn (benchmarks/conversation.py)")
    conversation.main()
    print("\n== the queue's bookkeeping at 10k and 100k waiting jobs (benchmarks/queue.py)")
    queue.main()
    print("\n== peak resident memory: 20 queued 4K jobs, 6 big GIF inputs (benchmarks/memory.py)")
    memory.main()


if __name__ == "__main__":
    main()
