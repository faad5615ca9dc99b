"""Objects kept beside an image and made from it (``bot.storage.encoded``): removed with it."""

from __future__ import annotations

DERIVED = (".b64",)


def with_derived(key: str) -> list[str]:
    """``key`` and the objects derived from it; a derived object's key is only itself."""
    if key.endswith(DERIVED):
        return [key]
    return [key, *(key + suffix for suffix in DERIVED)]
