"""How much memory a job's images need, and how much the machine can give them.

``MAX_IMAGE_MEMORY_MB`` is a budget for the images of the jobs the queue has started and not yet
delivered; each job is weighed before it starts by the pixels it asks for (``image_bytes``).
The default is a quarter of the memory this process may use: the machine's (``/proc/meminfo``,
``os.sysconf``) or its container's limit (cgroup v2 ``memory.max``, v1 ``memory.limit_in_bytes``),
whichever is smaller, and never under ``FLOOR_MB``.
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.catalog import GEMINI_SIZES
from bot.domain import ApiFamily, ImageSpec

MIB = 1024 * 1024
FLOOR_MB = 256  # room for one 4K job and a few small ones, whatever the machine says
SHARE = 4  # the budget is 1/SHARE of the memory available
# One output pixel's peak cost in this process over a job's life: the router's answer (base64
# in the body, the decoded file), then delivery's decode to fit it for Discord (3-4 bytes a
# pixel) and the re-encoded upload. Fitted to benchmarks/memory.py's 4K jobs (README).
BYTES_PER_PIXEL = 6
IMAGES_PIXELS = 1536 * 1024  # an Images API answer at "auto" size: assume the largest
CGROUP_LIMITS = (
    Path("/sys/fs/cgroup/memory.max"),
    Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
)


def physical_memory() -> int | None:
    """Bytes of memory this process may use: the machine's or its container's, if smaller."""
    sizes = [size for size in (_machine_memory(), *map(_cgroup_limit, CGROUP_LIMITS)) if size]
    return min(sizes) if sizes else None


def default_image_memory_mb(total: int | None = None) -> int:
    """A quarter of ``total`` (default: ``physical_memory()``) in MiB, at least ``FLOOR_MB``."""
    total = physical_memory() if total is None else total
    return max(FLOOR_MB, (total or 0) // SHARE // MIB)


def output_pixels(family: ApiFamily, spec: ImageSpec) -> int:
    """The pixels of one image ``spec`` asks for: the size, or the ratio at the resolution."""
    if family is ApiFamily.IMAGES:
        width, _, height = (spec.size or "").partition("x")
        if width.isdigit() and height.isdigit():
            return int(width) * int(height)
        return IMAGES_PIXELS
    tier = spec.resolution or "1K"
    sizes = GEMINI_SIZES.get(spec.aspect_ratio or "1:1")
    if sizes and tier in sizes:
        width_px, height_px = sizes[tier]
        return width_px * height_px
    # A ratio or tier the table doesn't know: the largest image of that tier.
    return max(
        (w * h for by in GEMINI_SIZES.values() for t, (w, h) in by.items() if t == tier),
        default=4096 * 4096,
    )


def image_bytes(pixels: int) -> int:
    """The peak bytes one image of ``pixels`` costs over its job's life."""
    return pixels * BYTES_PER_PIXEL


def _machine_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_limit(path: Path) -> int | None:
    """A container's memory limit; None when unset ("max", or v1's huge "unlimited")."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) < 1 << 60 else None


class Reservations:
    """The bytes held by the jobs a queue started and has not finished delivering, against a
    budget (None: no budget). One job may always start when none holds any, however big."""

    def __init__(self, budget: int | None) -> None:
        self.budget = budget
        self.used = 0
        self._held: dict[int, int] = {}  # job id -> bytes it holds

    @property
    def holding(self) -> int:
        """How many jobs hold memory now (started, not yet delivered)."""
        return len(self._held)

    def fits(self, need: int) -> bool:
        return self.budget is None or self.used == 0 or self.used + need <= self.budget

    def hold(self, job_id: int, need: int) -> None:
        self.used += need - self._held.get(job_id, 0)
        self._held[job_id] = need

    def release(self, job_id: int) -> bool:
        """Give back what ``job_id`` held; False if it held nothing."""
        need = self._held.pop(job_id, None)
        if need is None:
            return False
        self.used -= need
        return True
