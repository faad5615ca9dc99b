"""The two designs for large-image work, alternated in one run: worker processes
(``bot.offload``, with and without their niceness) against threads (``OFFLOAD_ABOVE_MB=0``, also
with a 1 ms ``sys.setswitchinterval``). Each round runs ``benchmarks.core``'s 20 concurrent 4K
jobs once per design and prints the loop's lag p99, the same less the loop thread's waits for a
CPU ("own"), and CPU-seconds per job with the workers counted.

    python -m benchmarks.offload_designs [ROUNDS]
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from benchmarks import core
from benchmarks.common import router_process, service
from bot.domain import ImageSpec

DESIGNS: dict[str, dict[str, Any]] = {
    "process-nice10": {"above": "4", "switch": 0.005, "nice": 10},
    "process": {"above": "4", "switch": 0.005, "nice": 0},
    "threads": {"above": "0", "switch": 0.005, "nice": 0},
    "threads-si1ms": {"above": "0", "switch": 0.001, "nice": 0},
}


async def bench(base_url: str, rounds: int) -> list[dict[str, Any]]:
    await core._fault(base_url, kind="huge", endpoint="chat")
    async with service(base_url, request_timeout=300) as svc:  # warm the fake's 4K cache
        await svc.imagine(
            "warm", ImageSpec(model=core.GEMINI, aspect_ratio="16:9", resolution="4K")
        )
    rows = []
    for _ in range(rounds):
        for name, design in DESIGNS.items():
            os.environ["OFFLOAD_ABOVE_MB"] = design["above"]
            sys.setswitchinterval(design["switch"])
            os.environ["OFFLOAD_NICE"] = str(design["nice"])
            try:
                p99, own, cpu = await core._burst(base_url, fit_on_loop=False)
            finally:
                sys.setswitchinterval(0.005)
                os.environ.pop("OFFLOAD_ABOVE_MB")
                os.environ.pop("OFFLOAD_NICE")
            row = {"design": name, "p99_ms": p99, "own_p99_ms": own, "cpu_s_per_job": cpu}
            row["load"] = os.getloadavg()[0]
            print(
                json.dumps({k: round(v, 2) if isinstance(v, float) else v for k, v in row.items()})
            )
            rows.append(row)
    return rows


def main() -> list[dict[str, Any]]:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    with router_process() as base_url:
        return asyncio.run(bench(base_url, rounds))


if __name__ == "__main__":
    main()
