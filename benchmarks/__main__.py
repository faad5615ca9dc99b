"""``make bench``: every benchmark in one run, each printed as ratios against its own baseline."""

from benchmarks import conversation, core, discord, fit, memory, scale


def main() -> None:
    print("== fitting a 4K photo-like PNG under 10 MiB (benchmarks/fit.py)")
    fit.main()
    print("\n== service overhead and event-loop lag (benchmarks/core.py)")
    core.main()
    print("\n== the bot under load: defer latency and loop lag (benchmarks/discord.py)")
    discord.main()
    print("\n== a 20-turn refine context with 4K images vs 1 turn (benchmarks/conversation.py)")
    conversation.main()
    print("\n== peak resident memory: 20 queued 4K jobs, 6 big GIF inputs (benchmarks/memory.py)")
    memory.main()
    print(
        "\n== scaling out on PostgreSQL: 1 vs 2 workers, claims at 10k and 1M jobs (benchmarks/scale.py)"
    )
    scale.main()


if __name__ == "__main__":
    main()
