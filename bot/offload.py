"""Image work on large payloads in worker processes, so it never holds the event loop's GIL.

A thread running Pillow or base64 shares the GIL with the event loop, which then waits up to a
switch interval (5 ms) for it after each I/O. ``run(func, data, *args)`` calls ``func(data, *args)``:

- in a thread when ``data`` is under the threshold (``OFFLOAD_ABOVE_MB``; 0: always);
- otherwise in a process pool (``forkserver``, started on first use, ``MAX_CONCURRENT_DECODES``
  workers, shut down with the last service).

What crosses the process boundary goes through files, not pickles: pickling 40 MB holds the GIL
while it copies, a file write or read lets go of it (``bot.spool``). ``data`` is written to a
spool file by a thread (or already is one: a router answer spooled as it was read), the worker
reads it, and every large ``bytes`` in the result (a bare one, or a
dataclass's ``data`` field, anywhere in dicts, lists and tuples) comes back the same way and is
read back by a thread. What the worker raises reaches the caller as raised (``bot.errors``
pickle whole); a worker that dies (killed, out of memory) fails every call it had with
``WorkerDied``, which callers map to their own user message, and the next call gets a new pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import dataclasses
import functools
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

from bot import spool

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_ABOVE = 4 * 1024 * 1024  # bytes: a 1K PNG stays in a thread, a 2K or 4K one does not
NICE = 0  # workers' niceness over the bot's (OFFLOAD_NICE): above 0 the event loop runs first
_SPILL = 256 * 1024  # result bytes at least this long come back through a file
# Imported once in the fork server, so each worker starts with them already loaded.
_PRELOAD = ["bot.router.decoding", "bot.fitting", "bot.canvas"]

_lock = threading.Lock()
_workers = 2
_above = DEFAULT_ABOVE
_pool: concurrent.futures.ProcessPoolExecutor | None = None
_sessions = 0  # services open (``session``)
finished = 0  # calls that ran in a worker process and came back (failed or not)
_kill_next = False  # tests: the next task's worker kills itself (``kill_next_worker``)


class WorkerDied(RuntimeError):
    """The worker process running the call stopped (killed, out of memory); the pool is renewed."""


@dataclasses.dataclass(frozen=True)
class _Spilled:
    """A result's bytes left in a file: ``holder`` with them put back as ``data``, or bare."""

    path: str
    holder: Any = None


def configure(workers: int, above: int | None = None) -> None:
    """Set the pool's size and the threshold (bytes; 0: never offload). Meant for start-up."""
    global _workers, _above
    with _lock:
        if above is not None:
            _above = above
        if workers != _workers:
            _workers = workers
            _drop(_pool)


@contextlib.asynccontextmanager
async def session(workers: int, above_mb: int, nice: int = 0) -> AsyncIterator[None]:
    """``configure`` for a service's life (``OFFLOAD_ABOVE_MB``, ``OFFLOAD_NICE``), then
    ``shutdown``."""
    global _sessions, NICE
    configure(workers, above_mb * 1024 * 1024)
    NICE = nice
    _sessions += 1
    try:
        yield
    finally:
        _sessions -= 1
        if not _sessions:  # services in one process share the pool: the last one stops it
            await asyncio.to_thread(shutdown)


def offloads(size: int) -> bool:
    """Whether a payload of ``size`` bytes goes to a worker process."""
    return 0 < _above <= size


def shutdown() -> None:
    """Stop the workers (a later ``run`` starts new ones) and remove the spool directory."""
    with _lock:
        _drop(_pool)
    spool.remove_all()


def kill_next_worker() -> None:
    """Make the next offloaded call's worker kill itself (SIGKILL), as the OOM killer would."""
    global _kill_next
    _kill_next = True


async def run(
    func: Callable[..., T],
    data: bytes | spool.Spooled,
    *args: Any,
    thread: concurrent.futures.Executor | None = None,
) -> T:
    """``func(data, *args)`` off the loop: a worker process if ``data`` is large, else a thread
    (``thread``, or asyncio's default executor). ``func`` must be a module-level function.
    ``data`` may already be in a spool file (``Spooled``, removed once read): the worker reads it
    from there, and the bot never holds it."""
    if isinstance(data, spool.Spooled) and not offloads(len(data)):
        data = await asyncio.to_thread(_read_once, data)  # offloading was turned off meanwhile
    if isinstance(data, bytes) and not offloads(len(data)):
        call = functools.partial(contextvars.copy_context().run, func, data, *args)
        return await asyncio.get_running_loop().run_in_executor(thread, call)
    return await _in_process(func, data, args)  # type: ignore[no-any-return]


async def _in_process(
    func: Callable[..., Any], data: bytes | spool.Spooled, args: tuple[Any, ...]
) -> Any:
    where = await asyncio.to_thread(spool.directory)
    if isinstance(data, spool.Spooled):
        source = data.path
    else:
        source = spool.new_path(".in", where)
        await asyncio.to_thread(spool.write, source, data)
    try:
        try:
            packed = await _in_worker(func, (str(source), args, str(where)))
        except _PoolClosed:  # another service's close shut the pool down under this call
            packed = await _in_worker(func, (str(source), args, str(where)))
    finally:
        await asyncio.to_thread(source.unlink, missing_ok=True)
    return await asyncio.to_thread(_unpack, packed)


def _read_once(data: spool.Spooled) -> bytes:
    try:
        return data.read()
    finally:
        data.discard()


class _PoolClosed(Exception):
    """The pool was shut down before the call started (its future cancelled, not the task)."""


async def _in_worker(func: Callable[..., Any], call: tuple[str, tuple[Any, ...], str]) -> Any:
    global _kill_next, finished
    kill, _kill_next = _kill_next, False
    # In a thread: a submit may start a worker, which waits on the fork server (and may start
    # that first), tens of ms on a busy machine.
    pool, future = await asyncio.to_thread(_submit, func, *call, kill)
    waiter = asyncio.wrap_future(future)
    try:
        return await asyncio.shield(waiter)
    except asyncio.CancelledError:
        waiter.add_done_callback(_retrieved)
        task = asyncio.current_task()
        if future.cancelled() and not (task and task.cancelling()):
            raise _PoolClosed from None
        if not future.cancel():  # running: its result files are removed once it ends
            future.add_done_callback(_discard_result)
        raise
    except (BrokenProcessPool, MemoryError) as exc:
        with _lock:
            _drop(pool)
        raise WorkerDied(f"{type(exc).__name__} in {func.__qualname__}") from exc
    finally:
        finished += future.done() and not future.cancelled()


def _submit(
    func: Callable[..., Any], *args: Any
) -> tuple[concurrent.futures.ProcessPoolExecutor, concurrent.futures.Future[Any]]:
    """Submit to the current pool; to a new one if that broke or shut down meanwhile."""
    pool = _current_pool()
    try:
        return pool, pool.submit(_child, func, *args)
    except (BrokenProcessPool, RuntimeError):  # a crash, or ``configure``, got there first
        with _lock:
            _drop(pool)
        pool = _current_pool()
        return pool, pool.submit(_child, func, *args)


def _current_pool() -> concurrent.futures.ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context(
                "forkserver" if "forkserver" in methods else "spawn"
            )
            if "forkserver" in methods:
                context.set_forkserver_preload(_PRELOAD)
            _pool = concurrent.futures.ProcessPoolExecutor(
                _workers, mp_context=context, initializer=_child_start, initargs=(NICE,)
            )
        return _pool


def _drop(pool: concurrent.futures.ProcessPoolExecutor | None) -> None:
    """Forget ``pool`` (if still current) and let it shut down without waiting; under ``_lock``."""
    global _pool
    if pool is None:
        return
    if _pool is pool:
        _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def _retrieved(waiter: asyncio.Future[Any]) -> None:
    """Mark an abandoned call's outcome seen (no "exception was never retrieved")."""
    if not waiter.cancelled():
        waiter.exception()


def _discard_result(future: concurrent.futures.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is None:
        _unpack(future.result())


# -- in the worker process ------------------------------------------------------------------------


def _child_start(nice: int) -> None:
    from bot import images  # noqa: PLC0415 (the worker's own decode bound and malloc settings)

    images.configure(1)
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)


def _child(
    func: Callable[..., Any], source: str, args: tuple[Any, ...], where: str, kill: bool
) -> Any:
    if kill:
        os.kill(os.getpid(), signal.SIGKILL)
    data = Path(source).read_bytes()
    os.unlink(source)  # read: the spool (maybe memory) need not hold it any longer
    result = func(data, *args)
    del data
    return _pack(result, Path(where))


def _pack(value: Any, where: Path) -> Any:
    """``value`` with each large ``bytes`` written to a file in ``where``."""
    if isinstance(value, bytes | bytearray) and len(value) >= _SPILL:
        return _Spilled(_spill(value, where))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = getattr(value, "data", None)
        if isinstance(data, bytes) and len(data) >= _SPILL:
            return _Spilled(_spill(data, where), dataclasses.replace(value, data=b""))
        return value
    if isinstance(value, dict):
        return {key: _pack(item, where) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_pack(item, where) for item in value)
    return value


def _spill(data: bytes | bytearray, where: Path) -> str:
    path = spool.new_path(".out", where)
    spool.write(path, data)
    return str(path)


# -- back in the parent ---------------------------------------------------------------------------


def _unpack(value: Any) -> Any:
    """The inverse of ``_pack``, in a thread: each file read back (GIL let go) and removed."""
    if isinstance(value, _Spilled):
        path = Path(value.path)
        try:
            data = path.read_bytes()
        finally:
            path.unlink(missing_ok=True)
        return data if value.holder is None else dataclasses.replace(value.holder, data=data)
    if isinstance(value, dict):
        return {key: _unpack(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_unpack(item) for item in value)
    return value
