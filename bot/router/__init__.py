"""The image router's client: ``RouterClient``."""

from bot.router.client import RouterClient

__all__ = ["RouterClient"]
