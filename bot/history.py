"""Who may list whose jobs in /history: one's own, anywhere and private ones too; another
member's only for a server's owner or managers, and then only that server's public results."""

from __future__ import annotations

from bot.errors import NotAllowed
from bot.storage.history import HistoryQuery

PAGE = 5


def history_query(
    viewer: str,
    *,
    target: str | None,
    guild_id: str | None,
    manager: bool,
    text: str | None = None,
    model: str | None = None,
) -> HistoryQuery:
    """The search ``viewer`` may run; NotAllowed for someone else's jobs without the right."""
    text = (text or "").strip() or None
    if target is None or target == viewer:
        return HistoryQuery(user_id=viewer, text=text, model=model)
    if guild_id is None or not manager:
        raise NotAllowed(
            "Only the server's owner or someone with Manage Server can list another "
            "member's images."
        )
    return HistoryQuery(user_id=target, guild_id=guild_id, text=text, model=model, public_only=True)
