"""``python -m tests.fakes.router``: run the fake router until SIGINT or SIGTERM.

The base URL is the first line on stdout so a parent process can read it; request logs
go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from .server import FakeRouter, check_loopback


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.router", description=__doc__)
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    parser.add_argument(
        "--key",
        action="append",
        dest="keys",
        help="accepted API key; repeat for several (default test-key)",
    )
    parser.add_argument(
        "--kind",
        default="requesty",
        choices=("requesty", "openrouter", "litellm", "openai"),
        help="which router to behave like (default requesty)",
    )
    args = parser.parse_args(argv)
    try:
        check_loopback(args.host)
    except ValueError as exc:
        parser.error(str(exc))  # exits with status 2
    return args


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    router = FakeRouter(api_keys=tuple(args.keys or ["test-key"]), host=args.host, kind=args.kind)
    await router.start(args.port)
    try:
        print(router.base_url, flush=True)
        logging.getLogger("tests.fakes.router").info("fake router listening on %s", router.base_url)
        await stop.wait()
    finally:
        await router.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
