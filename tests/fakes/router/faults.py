"""Scripted misbehaviour for the fake router.

A ``Fault`` is plain data so a test in another process can post it as JSON to
``/_fake/faults``. The router consults its queue on every request and applies the
first fault that matches; each fault is consumed after ``times`` uses.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

# Kinds that only change how the transport or status line behaves; they work on any route.
TRANSPORT_KINDS = frozenset({"status", "latency", "hang", "drop", "trickle"})
# Kinds that change the body of a successful answer; they need an image endpoint.
BODY_KINDS = frozenset(
    {"refusal", "no_image", "truncated_b64", "malformed_json", "url", "huge", "oversize"}
)
KINDS = TRANSPORT_KINDS | BODY_KINDS
SHAPES = ("origin", "openai", "text")
IMAGE_ROUTES = ("/images/generations", "/images/edits", "/chat/completions")


class FaultError(ValueError):
    """A fault description that cannot be used."""


@dataclass
class Fault:
    """One scripted failure.

    ``endpoint`` is a substring of the request path ("generations", "/v1/chat", "/files/");
    ``None`` matches every POST, while a named endpoint matches GETs too (downloads, /models).
    Transport kinds fire before validation; body kinds fire only on a valid request, so
    they are never used up by a 400. The remaining fields are read only by the kinds that need them:
    ``status``/``shape``/``message``/``retry_after`` by ``status``; ``seconds`` by ``latency``;
    ``seconds`` and ``chunk`` by ``trickle`` (the normal answer, ``chunk`` bytes every ``seconds``);
    ``url`` by ``url`` (the address put in the answer instead of a file on this fake).
    """

    kind: str
    endpoint: str | None = None
    times: int = 1
    status: int = 500
    shape: str = "origin"
    message: str | None = None
    retry_after: float | None = None
    seconds: float = 1.0
    chunk: int = 1
    url: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FaultError(f"unknown fault kind {self.kind!r}; choose from {sorted(KINDS)}")
        if self.shape not in SHAPES:
            raise FaultError(f"unknown shape {self.shape!r}; choose from {SHAPES}")
        if not isinstance(self.times, int) or isinstance(self.times, bool) or self.times < 1:
            raise FaultError("times must be an integer >= 1")
        if not isinstance(self.status, int) or not 100 <= self.status <= 599:
            raise FaultError("status must be an HTTP status code (100-599)")
        numbers = [self.seconds] + ([] if self.retry_after is None else [self.retry_after])
        if any(not isinstance(n, int | float) or isinstance(n, bool) or n < 0 for n in numbers):
            raise FaultError("seconds and retry_after must not be negative")
        if not isinstance(self.chunk, int) or isinstance(self.chunk, bool) or self.chunk < 1:
            raise FaultError("chunk must be an integer >= 1")
        if self.url is not None and (
            not isinstance(self.url, str) or not self.url.startswith(("http://", "https://"))
        ):
            raise FaultError("url must be an http:// or https:// URL")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Fault:
        if not isinstance(data, dict):
            raise FaultError("a fault must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise FaultError(f"unknown fault fields: {sorted(unknown)}")
        if "kind" not in data:
            raise FaultError("a fault needs a 'kind'")
        try:
            return cls(**data)
        except TypeError as exc:
            raise FaultError(str(exc)) from exc

    def applies_to(self, method: str, path: str) -> bool:
        """Whether this fault may fire on a request; body kinds only fit image routes."""
        if self.endpoint is None:
            if method != "POST":
                return False
        elif self.endpoint not in path:
            return False
        if self.kind in TRANSPORT_KINDS:
            return True
        if self.kind == "malformed_json":
            return not path.rstrip("/").endswith("/files") and "/files/" not in path
        if self.kind == "url":
            return "/images/" in path
        return any(path.endswith(route) for route in IMAGE_ROUTES)


class FaultQueue:
    """Thread-safe FIFO of pending faults (the CLI and tests may poke it from other threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        # A copy, so consuming uses never mutates the caller's object.
        with self._lock:
            self._faults.append(replace(fault))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, method: str, path: str, kinds: frozenset[str] = KINDS) -> Fault | None:
        """Consume one use of the first fault matching this request, if its kind is in ``kinds``.

        The server asks twice: for transport kinds before validating, for body kinds after.
        Looking only at the first match keeps the queue's order, and a body fault is not
        wasted on a request that fails validation.
        """
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.applies_to(method, path):
                    if fault.kind not in kinds:
                        return None
                    fault.times -= 1
                    if fault.times == 0:
                        del self._faults[index]
                    return fault
        return None
