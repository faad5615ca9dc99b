"""One process of the two-process burst (``test_budgets.py``): opens the store, waits for the
go file, then submits its jobs all at once and prints how many were held."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from bot.catalog import Catalog
from bot.domain import ImageSpec, JobKind
from bot.errors import OverBudget
from bot.inputs import Limits, Request
from bot.records import JobRecords
from bot.spending import Spending
from bot.storage import Store


async def burst(url: str, data_dir: Path, guild: str, user: str, go: Path, count: int) -> int:
    async with await Store.open(url, data_dir) as store:
        records = JobRecords(
            store, Limits(max_queued_per_user=1000), Spending(store, Catalog.load())
        )
        origin = {"guild_id": guild, "channel_id": "1", "user_id": user}
        spec = ImageSpec(model="azure/openai/gpt-image-1")
        deadline = time.monotonic() + 30
        while not go.exists():  # both processes start submitting at the same moment
            if time.monotonic() > deadline:
                raise TimeoutError("no go file")
            await asyncio.sleep(0.005)

        async def one(i: int) -> bool:
            try:
                await records.store(Request(JobKind.IMAGINE, f"fox {i}", spec, user, origin))
                return True
            except OverBudget:
                return False

        return sum(await asyncio.gather(*(one(i) for i in range(count))))


if __name__ == "__main__":
    url, data_dir, guild, user, go, count = sys.argv[1:7]
    print(asyncio.run(burst(url, Path(data_dir), guild, user, Path(go), int(count))))
