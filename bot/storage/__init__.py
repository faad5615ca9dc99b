"""The store: jobs, sessions, turns and image lineage in SQL; image bytes on disk, named by hash."""

from __future__ import annotations

from bot.storage.budgets import BudgetTables
from bot.storage.claims import JobClaims
from bot.storage.encoded import EncodedImages
from bot.storage.engine import make_engine
from bot.storage.files import ImageFiles
from bot.storage.history import JobHistory
from bot.storage.jobs import JobTables
from bot.storage.paints import PaintLink, PaintLinks
from bot.storage.rules import GuildRules
from bot.storage.sessions import SessionTables
from bot.storage.settings import ChannelSettings
from bot.storage.state import AppState
from bot.storage.sweeps import JobSweeps
from bot.storage.workers import WorkerLeases

__all__ = ["PaintLink", "Store", "make_engine"]


class Store(
    JobClaims,
    JobTables,
    JobSweeps,
    JobHistory,
    SessionTables,
    EncodedImages,
    ImageFiles,
    ChannelSettings,
    GuildRules,
    WorkerLeases,
    PaintLinks,
    BudgetTables,
    AppState,
):
    """Async access to everything Easel keeps; open with ``await Store.open(url, data_dir)``."""
