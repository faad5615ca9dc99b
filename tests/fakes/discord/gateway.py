"""The gateway websocket: HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeats, RESUME with replay.

discord.py connects with ``?v=10&encoding=json&compress=zlib-stream``; we answer zlib-stream
with one shared compressor per connection and a Z_SYNC_FLUSH after every payload, exactly
what ``utils._ZlibDecompressionContext`` expects. For ``zstd-stream`` (discord.py picks it
when a zstd module is importable) we send uncompressed text frames, which it also accepts.

A session outlives its socket: events are numbered and buffered, and a RESUME replays
everything after the client's last sequence. Closing with 1000/1001 ends the session, as on
Discord; any other drop leaves it resumable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .sessions import Session, application_flags, intents_ok, members_chunk, ready_payload

if TYPE_CHECKING:
    from .payloads import Renderer
    from .state import World

HELLO, HEARTBEAT, IDENTIFY, RESUME, RECONNECT = 10, 1, 2, 6, 7
REQUEST_MEMBERS, INVALID_SESSION, HEARTBEAT_ACK, DISPATCH = 8, 9, 11, 0
_IGNORED_OPS = {3, 4}  # presence and voice updates: accepted, nothing to do
_SEND_LIMIT = 120  # payloads per connection per 60 s (events/gateway.mdx)


@dataclass(eq=False)
class Connection:
    """One websocket; carries at most one session at a time."""

    ws: web.WebSocketResponse
    path: str
    compressor: Any | None
    session: Session | None = None
    sent: int = 0
    window_start: float = 0.0
    window_count: int = 0
    closed_by_us: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, frame: dict[str, Any]) -> None:
        text = json.dumps(frame, separators=(",", ":"))
        async with self.lock:
            if self.ws.closed:
                return
            if self.compressor is None:
                await self.ws.send_str(text)
                return
            data = self.compressor.compress(text.encode()) + self.compressor.flush(
                zlib.Z_SYNC_FLUSH
            )
            await self.ws.send_bytes(data)

    async def close(self, code: int, reason: str) -> None:
        self.closed_by_us = True
        await self.ws.close(code=code, message=reason.encode())


class Gateway:
    """Serves the websocket and fans dispatches out to sessions."""

    def __init__(
        self,
        world: World,
        renderer: Renderer,
        *,
        privileged_intents: int,
        heartbeat_interval_ms: int,
    ) -> None:
        self.world = world
        self.renderer = renderer
        self.privileged_intents = privileged_intents
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.url = ""
        self.resume_url = ""
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        self.identifies = 0
        self.recommended_shards = 1  # what GET /gateway/bot answers (SHARD_COUNT=auto)
        self.resumes = 0
        self.heartbeats = 0
        self.close_codes: list[int | None] = []
        self.connect_paths: list[str] = []

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/gateway/", self._serve), web.get("/gateway-resume/", self._serve)]

    # -- dispatch ---------------------------------------------------------------------------

    def live_sessions(self) -> list[Session]:
        return [s for s in self.sessions.values() if not s.ended]

    def connected_sessions(self) -> list[Session]:
        return [s for s in self.live_sessions() if s.connection is not None]

    def dispatch(self, event: str, data: dict[str, Any], guild_id: int | None) -> None:
        for session in self.live_sessions():
            if session.push_event(event, data, guild_id):
                _wake(session)

    def announce_guild(self, guild_id: int) -> None:
        """GUILD_CREATE for a guild added after READY, rendered per session's intents."""
        guild = self.world.guilds[guild_id]
        for session in self.live_sessions():
            payload = self.renderer.guild_create(guild, all_members=session.wants_members)
            if session.push_event("GUILD_CREATE", payload, guild_id):
                _wake(session)

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until every connected session has written its backlog to the socket."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(s.backlog() for s in self.connected_sessions()):
            if loop.time() > deadline:
                raise AssertionError(f"gateway backlog not written within {timeout:g}s")
            await asyncio.sleep(0.005)

    # -- faults -------------------------------------------------------------------------------

    async def drop(self, code: int = 4000) -> None:
        """Close every socket with a resumable code; sessions stay for RESUME."""
        for conn in list(self.connections):
            await conn.close(code, "fake gateway dropped the connection")

    async def request_reconnect(self) -> None:
        for conn in list(self.connections):
            await conn.send({"op": RECONNECT, "d": None, "s": None, "t": None})

    async def invalidate_sessions(self) -> None:
        """INVALID_SESSION (not resumable): the client must IDENTIFY again."""
        for session in self.live_sessions():
            session.ended = True
            if session.connection is not None:
                await session.connection.send(_op(INVALID_SESSION, False))

    async def close(self) -> None:
        for conn in list(self.connections):
            await conn.close(1001, "fake discord stopping")

    # -- the socket -----------------------------------------------------------------------------

    async def _serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        query = request.query
        if query.get("encoding", "json") != "json" or query.get("v", "10") not in ("9", "10"):
            await ws.close(code=4012, message=b"only encoding=json and v=9/10 are faked")
            return ws
        compressor = zlib.compressobj() if query.get("compress") == "zlib-stream" else None
        conn = Connection(ws, request.path, compressor)
        self.connections.add(conn)
        self.connect_paths.append(request.path)
        writer = asyncio.create_task(self._write(conn))
        try:
            await conn.send(
                _op(
                    HELLO,
                    {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": ["fake-discord"]},
                )
            )
            await self._read(conn)
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._detach(conn)
        return ws

    async def _read(self, conn: Connection) -> None:
        async for msg in conn.ws:
            if msg.type is not WSMsgType.TEXT:
                if msg.type is WSMsgType.BINARY:
                    await conn.close(4002, "send JSON text frames")
                continue
            if self._over_send_limit(conn):
                await conn.close(4008, "rate limited")
                return
            try:
                frame = json.loads(msg.data)
            except ValueError:
                await conn.close(4002, "decode error")
                return
            try:
                await self._handle(conn, frame.get("op"), frame.get("d"))
            except Exception as exc:
                # A bug in the fake: remember it so the test fails, and drop the socket.
                self.world.internal_errors.append(exc)
                await conn.close(4000, "fake gateway error")
                return

    def _over_send_limit(self, conn: Connection) -> bool:
        now = asyncio.get_running_loop().time()
        if now - conn.window_start >= 60:
            conn.window_start, conn.window_count = now, 0
        conn.window_count += 1
        return conn.window_count > _SEND_LIMIT

    def _detach(self, conn: Connection) -> None:
        self.connections.discard(conn)
        code = conn.ws.close_code
        self.close_codes.append(code)
        session = conn.session
        if session is None or session.connection is not conn:
            return
        session.connection = None
        # Closing with 1000/1001 ends the session (Discord's rule); anything else is resumable.
        if code in (1000, 1001) and not conn.closed_by_us:
            session.ended = True
        self.world.changed()

    async def _write(self, conn: Connection) -> None:
        while not conn.ws.closed:
            conn.wake.clear()
            session = conn.session
            while session is not None and conn.sent < len(session.buffer):
                frame = session.frame(conn.sent)
                conn.sent += 1
                await conn.send(frame)
            if session is not None:
                self.world.changed()
            await conn.wake.wait()

    async def _handle(self, conn: Connection, op: Any, data: Any) -> None:
        if op == HEARTBEAT:
            self.heartbeats += 1
            await conn.send(_op(HEARTBEAT_ACK, None))
        elif op == IDENTIFY:
            await self._identify(conn, data or {})
        elif op == RESUME:
            await self._resume(conn, data or {})
        elif conn.session is None:
            await conn.close(4003, "not authenticated")
        elif op == REQUEST_MEMBERS:
            self._request_members(conn.session, data or {})
        elif op not in _IGNORED_OPS:
            await conn.close(4001, "unknown opcode")

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> None:
        if conn.session is not None:
            await conn.close(4005, "already authenticated")
            return
        if data.get("token") != self.world.token:
            await conn.close(4004, "authentication failed")
            return
        intents = data.get("intents")
        problem = intents_ok(intents, self.privileged_intents, data.get("shard"))
        if problem is not None:
            await conn.close(*problem)
            return
        session = Session(
            secrets.token_hex(16),
            int(intents or 0),
            tuple(data.get("shard") or (0, 1)),
            self.world.bot_user.id,
        )
        session.sharded = data.get("shard") is not None
        self.sessions[session.id] = session
        self.identifies += 1
        self._attach(conn, session, 0)
        session.push_event(
            "READY",
            ready_payload(self.world, session, self.resume_url, self.application_flags()),
            None,
        )
        for guild in self.world.guilds.values():
            if session.owns(guild.id):
                payload = self.renderer.guild_create(guild, all_members=session.wants_members)
                session.push_event("GUILD_CREATE", payload, guild.id)
        session.ready = True
        _wake(session)

    async def _resume(self, conn: Connection, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        seq = data.get("seq") or 0
        if (
            session is None
            or session.ended
            or data.get("token") != self.world.token
            or seq > len(session.buffer)
        ):
            await conn.send(_op(INVALID_SESSION, False))
            return
        if session.connection is not None and session.connection is not conn:
            await session.connection.close(4009, "session resumed elsewhere")
        self.resumes += 1
        self._attach(conn, session, seq)
        session.push_event("RESUMED", {"_trace": ["fake-discord"]}, None)
        _wake(session)

    def _attach(self, conn: Connection, session: Session, sent: int) -> None:
        conn.session = session
        conn.sent = sent
        session.connection = conn

    def application_flags(self) -> int:
        return application_flags(self.privileged_intents)

    def _request_members(self, session: Session, data: dict[str, Any]) -> None:
        chunk = members_chunk(self.world, data)
        if chunk is not None:
            session.push_event("GUILD_MEMBERS_CHUNK", chunk, None, force=True)
            _wake(session)


def _op(op: int, data: Any) -> dict[str, Any]:
    return {"op": op, "d": data, "s": None, "t": None}


def _wake(session: Session) -> None:
    if session.connection is not None:
        session.connection.wake.set()
