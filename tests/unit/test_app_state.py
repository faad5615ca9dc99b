"""The app_state table (the synced command tree's hash) and the hash itself."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from bot.app import tree_hash
from bot.storage import Store


async def test_state_is_stored_replaced_and_kept_across_a_reopen(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'easel.db'}"
    async with await Store.open(url, tmp_path) as store:
        assert await store.state("commands:1:global") is None
        await store.set_state("commands:1:global", "a")
        await store.set_state("commands:1:global", "b")
        await store.set_state("commands:1:42", "c")
    async with await Store.open(url, tmp_path) as store:
        assert await store.state("commands:1:global") == "b"
        assert await store.state("commands:1:42") == "c"


def test_the_hash_ignores_key_order_but_not_content():
    one = [{"name": "imagine", "options": [{"name": "prompt", "type": 3}]}]
    same = [{"options": [{"type": 3, "name": "prompt"}], "name": "imagine"}]
    other = [{"name": "imagine", "options": [{"name": "prompt", "type": 4}]}]
    assert tree_hash(one) == tree_hash(same) != tree_hash(other)
