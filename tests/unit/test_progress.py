"""The progress board on a virtual clock: per-channel and global rates, changed text shown and
unchanged text not sent again, fairness in a busy channel, removal, and the loop itself."""

import asyncio
from collections import defaultdict

from bot.progress import ProgressBoard, coarse


class Line:
    """A stand-in for the queue: positions() returns a new mapping each time the order changes,
    the same one otherwise (as ``JobQueue.positions`` does)."""

    def __init__(self, ids=()):
        self.order = list(ids)
        self.started = []
        self._positions = {}
        self.moved()

    def moved(self):
        self._positions = {job_id: i + 1 for i, job_id in enumerate(self.order)}

    def start_next(self):
        job_id = self.order.pop(0)
        self.started.append(job_id)
        self.moved()
        return job_id

    def positions(self):
        return self._positions

    def running(self):
        return list(self.started)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def text(job_id, renders=None):
    def render(position, elapsed):
        if renders is not None:
            renders[job_id] += 1
        if position is not None:
            return f"job {job_id}: position {position}"
        return f"job {job_id}: running {int(elapsed)} s"

    return render


def board_for(line, clock, **options):
    return ProgressBoard(line.positions, line.running, clock=clock, **options)


def test_per_channel_and_global_rates_are_never_exceeded():
    ids = range(1, 601)
    line, clock = Line(ids), Clock()
    board = board_for(line, clock, interval=1.0, per_second=20)
    for job_id in ids:
        board.add(job_id, f"channel-{job_id % 30}", text(job_id))
    shown = defaultdict(list)
    every = []
    for step in range(1200):  # two minutes, a tick every 0.1 s, the queue moving twice a second
        clock.now = step / 10
        if step % 5 == 0 and line.order:
            board.remove(line.start_next())  # started and finished at once
        for job_id, _text in board.take():
            shown[f"channel-{job_id % 30}"].append(clock.now)
            every.append(clock.now)
    assert len(every) > 1000  # the board kept the channels busy
    for times in shown.values():
        assert all(b - a >= 1.0 - 1e-9 for a, b in zip(times, times[1:], strict=False)), times
    for t in every:
        assert sum(1 for u in every if t - 1.0 < u <= t) <= 20


def test_changed_text_is_shown_and_unchanged_text_is_not_sent_again():
    line, clock = Line([1, 2]), Clock()
    board = board_for(line, clock)
    board.add(2, "c", text(2))
    assert board.take() == [(2, "job 2: position 2")]
    for step in range(1, 20):
        clock.now = step
        assert board.take() == []  # nothing moved
    line.start_next()  # job 1 starts: job 2 is next
    clock.now = 30
    assert board.take() == [(2, "job 2: position 1")]
    clock.now = 40
    assert board.take() == []


def test_nothing_is_rendered_while_nothing_moves():
    ids = list(range(1, 1001))
    line, clock, renders = Line(ids), Clock(), defaultdict(int)
    board = board_for(line, clock, per_second=1000)
    for job_id in ids:
        board.add(job_id, f"c{job_id % 10}", text(job_id, renders))
    for step in range(200):  # every job shown once (10 channels, one edit a second each)
        clock.now = step
        board.take()
    assert sum(renders.values()) == len(ids)
    before = sum(renders.values())
    for step in range(200, 400):
        clock.now = step
        assert board.take() == []
    assert sum(renders.values()) == before


def busy_channel(jobs):
    """``jobs`` waiting jobs in one channel, on a board with exact positions."""
    ids = list(range(1, jobs + 1))
    line, clock = Line(ids), Clock()
    board = board_for(line, clock, exact_upto=1000)
    for job_id in ids:
        board.add(job_id, "busy", text(job_id))
    return ids, line, clock, board


def test_every_job_in_a_busy_channel_gets_its_turn():
    ids, line, clock, board = busy_channel(200)
    seen, later = defaultdict(int), defaultdict(int)
    for step in range(1200):  # the queue moves every 2 s, one edit a second in the channel
        clock.now = step
        if step % 2 == 1:
            line.order.append(line.order.pop(0))  # someone else's job went first: all move
            line.moved()
        for job_id, _ in board.take():
            seen[job_id] += 1
            later[job_id] += step >= 400
    assert set(seen) == set(ids)
    assert min(seen.values()) >= 4  # each one updated again and again, not just once
    # once each was shown, they take strict turns: oldest shown first
    assert max(later.values()) - min(later.values()) <= 1, later


def test_a_job_that_arrives_or_starts_in_a_busy_channel_is_shown_within_two_turns():
    ids, line, clock, board = busy_channel(30)
    for step in range(30):  # each shown once, one edit a second
        clock.now = step
        board.take()
    shown = []
    for step in range(30, 60):  # the queue keeps moving, new jobs keep arriving and starting
        clock.now = step
        line.order.append(line.order.pop(0))
        if step % 3 == 0:
            line.order.append(100 + step)
            board.add(100 + step, "busy", text(100 + step))
        if step % 5 == 0:
            line.start_next()
        line.moved()
        shown += [(step, t) for _, t in board.take()]
    for step in range(30, 60, 3):  # every newcomer is shown in its second at the latest
        assert any(t.startswith(f"job {100 + step}:") for at, t in shown if at <= step + 1), step
    running = {t.split(":")[0] for at, t in shown if "running" in t and at < 58}
    assert running == {f"job {job_id}" for job_id in line.started[:-1]}, shown  # each start
    assert any("position" in t and int(t.split()[1][:-1]) < 100 for _, t in shown)  # and moves


def test_far_positions_are_coarsened():
    assert [coarse(p, 10) for p in (1, 10)] == [1, 10]
    assert coarse(11, 10) == coarse(19, 10) != coarse(20, 10)
    assert coarse(120, 10) == coarse(199, 10) != coarse(99, 10)
    line, clock = Line(range(1, 151)), Clock()
    board = board_for(line, clock)
    board.add(150, "c", text(150))
    assert board.take() == [(150, "job 150: position 150")]
    for step in range(1, 51):  # 150 → 100: still in the hundreds, no edit
        clock.now = step
        line.start_next()
        board.remove(line.started.pop())
        assert board.take() == [], step
    clock.now = 60
    line.start_next()
    board.remove(line.started.pop())
    assert board.take() == [(150, "job 150: position 99")]


def test_a_started_job_shows_its_elapsed_time_every_few_seconds():
    line, clock = Line([1]), Clock()
    board = board_for(line, clock, running_every=5.0)
    board.add(1, "c", text(1))
    assert board.take() == [(1, "job 1: position 1")]
    clock.now = 2
    line.start_next()
    assert board.take() == [(1, "job 1: running 0 s")]
    shown = []
    for step in range(21, 200):
        clock.now = step / 10
        shown += [t for _, t in board.take()]
    assert shown == ["job 1: running 5 s", "job 1: running 10 s", "job 1: running 15 s"]


def test_a_removed_job_is_never_shown_and_its_channel_is_forgotten():
    line, clock = Line([1, 2, 3]), Clock()
    board = board_for(line, clock)
    for job_id in (1, 2, 3):
        board.add(job_id, "c", text(job_id))
    assert board.remove(2) and not board.remove(2)
    shown = []
    for step in range(10):
        clock.now = step
        shown += [job_id for job_id, _ in board.take()]
    assert sorted(shown) == [1, 3]
    board.remove(1)
    board.remove(3)
    assert len(board) == 0 and not board._keys


async def test_the_loop_edits_each_channel_one_at_a_time_and_forget_stops_an_edit():
    line = Line([1, 2, 3])
    board = ProgressBoard(line.positions, line.running, tick=0.01)
    for job_id in (1, 2, 3):
        board.add(job_id, "same" if job_id < 3 else "other", text(job_id))
    started, release, done = [], asyncio.Event(), []

    async def edit(job_id, shown):
        started.append(job_id)
        await release.wait()
        done.append(job_id)

    loop = asyncio.create_task(board.run(edit))
    try:
        async with asyncio.timeout(5):
            while len(started) < 2:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert sorted(started) == [1, 3]  # job 2 waits: its channel has an edit in flight
        await board.forget(1)  # job 1 finished: its edit must not land after the result
        await board.forget(3)
        release.set()
        async with asyncio.timeout(5):
            while 2 not in done:
                await asyncio.sleep(0.01)
        assert done == [2] and sorted(started[:2]) == [1, 3] and started[2:] == [2]
    finally:
        loop.cancel()
        await asyncio.gather(loop, return_exceptions=True)
