"""``make bench``: every benchmark in one run, each printed as ratios against its own baseline."""

from benchmarks import core, fit


def main() -> None:
    print("== fitting a 4K photo-like PNG under 10 MiB (benchmarks/fit.py)")
    fit.main()
    print("\n== service overhead and event-loop lag (benchmarks/core.py)")
    core.main()


if __name__ == "__main__":
    main()
