"""Progress messages of every job that awaits one, edited by one loop at a rate Discord allows.

Each job on the board has a key (the channel its message is in), a way to render its text from
its queue position (``None`` once it runs) and elapsed seconds, and the text last shown. One
loop takes the due edits: in each key at most one edit per ``interval`` seconds (and none while
the last one is still in flight), over all keys at most ``per_second`` a second. In a key the
running jobs and the never-shown jobs take turns; the already-shown waiting jobs' new positions
fill the edits they leave. Each line goes in the order its jobs were last shown (oldest first), so
a job is shown soon after it arrives and again when it starts, however busy the channel.

What a job shows is first compared as a small state, not as rendered text: the position while it
waits (exact up to ``exact_upto``, then coarsened to its leading digit: 10–19, 20–29, …, 100–199,
so a far job is edited when its bucket changes, with the exact position at that time) and the
elapsed time in steps of ``running_every`` while it runs. When the queue's order did not change
(``positions()`` returns the same cached mapping) a key whose jobs were all checked is passed
over in O(1), and a job is rendered only when its state changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Render = Callable[[int | None, float | None], str]  # (position or None, elapsed s) -> text
Edit = Callable[[int, str], Coroutine[Any, Any, None]]  # (job id, text): show it
State = tuple[str, int]


@dataclass(eq=False)
class _Entry:
    job_id: int
    key: str
    render: Render
    shown: State | None = None
    text: str | None = None
    checked: int = -1  # the board's version when its state was last found unchanged
    started: float | None = None


@dataclass(eq=False)
class _Key:
    """The jobs of one channel, each line oldest-shown first."""

    running: OrderedDict[int, _Entry] = field(default_factory=OrderedDict)
    fresh: OrderedDict[int, _Entry] = field(default_factory=OrderedDict)
    waiting: OrderedDict[int, _Entry] = field(default_factory=OrderedDict)
    next_at: float = 0.0
    busy: bool = False  # an edit is in flight
    swept: int = -1  # version at which no waiting job here needed an edit
    turn: int = 0  # which of running and fresh goes first next time

    def __len__(self) -> int:
        return len(self.running) + len(self.fresh) + len(self.waiting)


def coarse(position: int, exact_upto: int) -> int:
    """The position as compared for a change: exact near the front, then its leading digit."""
    if position <= exact_upto:
        return position
    step: int = 10 ** (len(str(position)) - 1)
    return -(position // step * step)  # negative: never equal to an exact position


class ProgressBoard:
    """Every job awaiting a progress edit, and which edits are due now."""

    def __init__(
        self,
        positions: Callable[[], Mapping[int, int]],
        running: Callable[[], Iterable[int]] = tuple,
        *,
        interval: float = 1.0,
        per_second: float = 30.0,
        running_every: float = 5.0,
        exact_upto: int = 10,
        tick: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._positions, self._running = positions, running
        self.interval, self.per_second, self.running_every = interval, per_second, running_every
        self.exact_upto, self.tick, self.clock = exact_upto, tick, clock
        self._entries: dict[int, _Entry] = {}
        self._keys: OrderedDict[str, _Key] = OrderedDict()  # served longest ago first
        self._seen: Mapping[int, int] | None = None
        self._version = 0
        self._sent: deque[float] = deque()  # when the edits of the last second were taken
        self._flying: dict[int, asyncio.Task[None]] = {}
        self._wake: asyncio.Event | None = None

    def __len__(self) -> int:
        return len(self._entries)

    # -- membership ---------------------------------------------------------------------------
    def add(self, job_id: int, key: str, render: Render) -> None:
        self.remove(job_id)
        entry = _Entry(job_id, key, render)
        self._entries[job_id] = entry
        self._keys.setdefault(key, _Key()).fresh[job_id] = entry
        if self._wake is not None:
            self._wake.set()

    def remove(self, job_id: int) -> bool:
        """Forget a job (it finished): no edit of it is taken after this."""
        entry = self._entries.pop(job_id, None)
        if entry is None:
            return False
        lines = self._keys[entry.key]
        for line in (lines.running, lines.fresh, lines.waiting):
            line.pop(job_id, None)
        if not lines and not lines.busy:
            del self._keys[entry.key]
        return True

    def touch(self, job_id: int) -> None:
        """Something else in the job's text changed: render it again at its next turn."""
        entry = self._entries.get(job_id)
        if entry is not None:
            entry.shown, entry.checked = None, -1
            self._keys[entry.key].swept = -1

    # -- what is due --------------------------------------------------------------------------
    def take(self) -> list[tuple[int, str]]:
        """The edits due now, as (job id, text); each is counted as shown."""
        now = self.clock()
        self._refresh(now)
        while self._sent and self._sent[0] <= now - 1.0:
            self._sent.popleft()  # the last second's edits, to cap them at per_second
        edits: list[tuple[int, str]] = []
        for key, lines in list(self._keys.items()):
            if len(self._sent) >= self.per_second:
                break
            if (
                lines.busy
                or lines.next_at > now
                or lines.swept == self._version
                and not (lines.running or lines.fresh)
            ):
                continue
            entry = self._pick(lines, now)
            if entry is None:
                continue
            edits.append((entry.job_id, entry.text or ""))
            lines.next_at = now + self.interval
            self._sent.append(now)
            self._keys.move_to_end(key)
        return edits

    def _refresh(self, now: float) -> None:
        """A new queue order: a new version, and the jobs that started move to running."""
        positions = self._positions()
        if positions is self._seen:
            return
        self._seen = positions
        self._version += 1
        for job_id in self._running():
            entry = self._entries.get(job_id)
            if entry is not None and entry.started is None:
                self._start(entry, now)

    def _start(self, entry: _Entry, now: float) -> None:
        entry.started = now
        lines = self._keys[entry.key]
        lines.fresh.pop(entry.job_id, None)
        lines.waiting.pop(entry.job_id, None)
        lines.running[entry.job_id] = entry

    def _state(self, entry: _Entry, now: float) -> State:
        position = self._seen_position(entry)
        if entry.started is None and position is not None:
            return ("wait", coarse(position, self.exact_upto))
        return ("run", int((now - (entry.started or now)) // self.running_every))

    def _pick(self, lines: _Key, now: float) -> _Entry | None:
        """The next job of this key to show. The running jobs and the never-shown ones take turns
        (each oldest-shown first); a waiting job's new position comes only when neither has an
        edit due, so a job that arrives or starts in a busy channel is shown within two turns."""
        for step in range(2):
            line = (lines.running, lines.fresh)[(lines.turn + step) % 2]
            entry = self._first_changed(line, now)
            if entry is not None:
                lines.turn = (lines.turn + step + 1) % 2
                return entry
        if lines.swept == self._version:
            return None  # every waiting job here was found unchanged in this queue order
        entry = self._first_changed(lines.waiting, now)
        if entry is None:
            lines.swept = self._version
        return entry

    def _first_changed(self, line: OrderedDict[int, _Entry], now: float) -> _Entry | None:
        """The oldest-shown job of the line whose text changed, counted as shown."""
        while True:
            found: tuple[_Entry, State] | None = None
            for entry in line.values():
                if entry.checked == self._version and entry.started is None:
                    continue  # a waiting job already found unchanged in this queue order
                state = self._state(entry, now)
                if state != entry.shown:
                    found = (entry, state)
                    break
                entry.checked = self._version
            if found is None:
                return None
            if self._show(*found, now):
                return found[0]

    def _show(self, entry: _Entry, state: State, now: float) -> bool:
        """Render; True (and moved to the back of its line) if the text changed."""
        if entry.started is None and state[0] == "run":
            self._start(entry, now)  # it left the line without being seen running
        position = None if entry.started is not None else self._seen_position(entry)
        elapsed = None if entry.started is None else now - entry.started
        text = entry.render(position, elapsed)
        entry.shown, entry.checked = state, self._version
        if text == entry.text:
            return False
        entry.text = text
        lines = self._keys[entry.key]
        lines.fresh.pop(entry.job_id, None)
        line = lines.running if entry.started is not None else lines.waiting
        line.pop(entry.job_id, None)
        line[entry.job_id] = entry
        return True

    def _seen_position(self, entry: _Entry) -> int | None:
        return self._seen.get(entry.job_id) if self._seen is not None else None

    # -- the loop -----------------------------------------------------------------------------
    async def run(self, edit: Edit) -> None:
        """Take the due edits every ``tick`` and perform them, each key one at a time."""
        self._wake = asyncio.Event()
        try:
            while True:
                if not self._entries:
                    self._wake.clear()
                    await self._wake.wait()
                for job_id, text in self.take():
                    self._launch(job_id, text, edit)
                await asyncio.sleep(self.tick)
        finally:
            flying = list(self._flying.values())
            for task in flying:
                task.cancel()
            await asyncio.gather(*flying, return_exceptions=True)

    def _launch(self, job_id: int, text: str, edit: Edit) -> None:
        key = self._entries[job_id].key
        self._keys[key].busy = True
        task = asyncio.create_task(edit(job_id, text), name=f"progress-{job_id}")
        self._flying[job_id] = task
        task.add_done_callback(lambda done: self._landed(job_id, key, done))

    def _landed(self, job_id: int, key: str, task: asyncio.Task[None]) -> None:
        if self._flying.get(job_id) is task:
            del self._flying[job_id]
        lines = self._keys.get(key)
        if lines is not None:
            lines.busy = False
            if not lines:
                del self._keys[key]
        if not task.cancelled() and task.exception() is not None:
            log.warning("job %s: progress edit failed: %r", job_id, task.exception())

    async def forget(self, job_id: int) -> None:
        """Remove a finished job and stop its edit in flight, so none lands after its result."""
        self.remove(job_id)
        task = self._flying.pop(job_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(task, return_exceptions=True)
