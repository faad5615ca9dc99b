"""The fake Requesty router: an aiohttp server on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import io
import ipaddress
import json
import logging
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from aiohttp import BodyPartReader, web
from PIL import Image

from . import modes, responses
from .faults import BODY_KINDS, TRANSPORT_KINDS, Fault, FaultError, FaultQueue
from .protocol import (
    MAX_EDIT_IMAGE_BYTES,
    MAX_EDIT_IMAGES,
    HttpError,
    invalid,
    moderation_blocked,
    openai_body,
    origin_body,
    status_error,
    unauthorized,
)
from .validation import (
    ImagesJob,
    Upload,
    parse_chat,
    parse_edit_form,
    parse_edit_json,
    parse_generation,
)

log = logging.getLogger("tests.fakes.router")

HANG_LIMIT = 600.0
# Sixteen 50 MB images plus the form fields around them.
CLIENT_MAX_SIZE = MAX_EDIT_IMAGES * MAX_EDIT_IMAGE_BYTES + 16 * 1024 * 1024
ELIDE_OVER = 2000  # characters; data URLs in /_fake/requests are summarised past this


@dataclass
class RecordedRequest:
    """One request as the router saw it (Authorization removed).

    ``body`` is the parsed JSON, or for multipart a dict of fields where files are summaries
    ``{filename, content_type, size, sha256, width, height}`` and names ending in ``[]`` or
    sent twice hold lists. ``status`` is None while in flight or when the connection was dropped.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    content_type: str
    body: Any = None
    status: int | None = None
    fault: str | None = None

    def to_dict(self, *, full: bool = False) -> dict[str, Any]:
        data = asdict(self)
        return data if full else _elide(data)


def _elide(value: Any) -> Any:
    """Long strings (base64 images) become a short fingerprint so listings stay small."""
    if isinstance(value, str) and len(value) > ELIDE_OVER:
        digest = hashlib.sha256(value.encode()).hexdigest()[:16]
        return f"{value[:64]}...<{len(value)} chars, sha256 {digest}>"
    if isinstance(value, dict):
        return {k: _elide(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_elide(v) for v in value]
    return value


BODY_KEY = web.RequestKey("body", object)  # the parsed body, read once by the middleware
RECORD_KEY = web.RequestKey("record", RecordedRequest)


class _BadBody:
    """Marker for a body that could not be parsed; the handler turns it into a 400."""

    def __init__(self, message: str) -> None:
        self.message = message


def _summarise_upload(upload: Upload) -> dict[str, Any]:
    width = height = None
    try:
        with Image.open(io.BytesIO(upload.data)) as img:  # header only, no decoding
            width, height = img.size
    except Exception:  # not an image: the summary says so by leaving the size empty
        pass
    return {
        "filename": upload.filename,
        "content_type": upload.content_type,
        "size": upload.size,
        "sha256": hashlib.sha256(upload.data).hexdigest(),
        "width": width,
        "height": height,
    }


def _summarise_form(form: dict[str, list[str | Upload]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, values in form.items():
        shown = [_summarise_upload(v) if isinstance(v, Upload) else v for v in values]
        out[name] = shown if name.endswith("[]") or len(shown) > 1 else shown[0]
    return out


async def _read_upload(part: Any) -> Upload:
    """Read a file part, keeping at most one byte past the 50 MB limit in memory."""
    chunks, size = [], 0
    while chunk := await part.read_chunk(1024 * 1024):
        size += len(chunk)
        if size <= MAX_EDIT_IMAGE_BYTES + 1:
            chunks.append(chunk)
    return Upload(part.filename, part.headers.get("Content-Type"), b"".join(chunks), size)


async def _read_form(request: web.Request) -> dict[str, list[str | Upload]]:
    form: dict[str, list[str | Upload]] = {}
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):  # nested multipart: not something clients send
            raise ValueError("nested multipart bodies are not supported")
        value: str | Upload = (
            await _read_upload(part) if part.filename is not None else await part.text()
        )
        form.setdefault(part.name or "", []).append(value)
    return form


def check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"the fake router only listens on loopback, not {host!r}")


class FakeRouter:
    """A loopback stand-in for router.requesty.ai, strict about every field it is sent."""

    def __init__(
        self,
        *,
        api_keys: tuple[str, ...] | list[str] = ("test-key",),
        host: str = "127.0.0.1",
        kind: str = "requesty",
    ) -> None:
        check_loopback(host)
        self.mode = modes.MODES[kind]  # which router it behaves like (modes.py)
        self.api_keys = frozenset(api_keys)
        self.host = host
        self.base_url = ""
        self.requests: list[RecordedRequest] = []
        self.faults = FaultQueue()
        self._files: dict[str, tuple[bytes, str]] = {}
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    # ----- lifecycle -------------------------------------------------------------------------

    async def start(self, port: int = 0) -> str:
        """Listen on ``host:port`` (0 picks a free port); returns the base URL ending in /v1."""
        if self._runner is not None:
            raise RuntimeError("the fake router is already running")
        self._stopping = asyncio.Event()
        app = web.Application(client_max_size=CLIENT_MAX_SIZE, middlewares=[self._middleware])
        self._add_routes(app)
        # A short shutdown: stop() releases hanging handlers first, so nothing should linger.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, port).start()
        bound = self._runner.addresses[0][1]
        netloc = f"[{self.host}]" if ":" in self.host else self.host
        self.base_url = f"http://{netloc}:{bound}/v1"
        return self.base_url

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeRouter:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ----- control ---------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        self.faults.add(fault)

    def reset(self) -> None:
        """Forget pending faults and recorded requests (download files stay available)."""
        self.faults.clear()
        self.requests.clear()

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/images/generations", self._generations)
        app.router.add_post("/v1/images/edits", self._edits)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/files/{file_id}", self._download)
        app.router.add_post("/_fake/faults", self._post_faults)
        app.router.add_get("/_fake/faults", self._get_faults)
        app.router.add_post("/_fake/reset", self._post_reset)
        app.router.add_get("/_fake/requests", self._get_requests)

    async def _post_faults(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            items = data if isinstance(data, list) else [data]
            faults = [Fault.from_dict(item) for item in items]
        except (ValueError, FaultError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        for fault in faults:
            self.add_fault(fault)
        return await self._get_faults(request)

    async def _get_faults(self, request: web.Request) -> web.Response:
        return web.json_response({"faults": [f.to_dict() for f in self.faults.pending()]})

    async def _post_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _get_requests(self, request: web.Request) -> web.Response:
        full = request.query.get("full") in ("1", "true")
        items = await asyncio.to_thread(lambda: [r.to_dict(full=full) for r in list(self.requests)])
        return web.json_response({"requests": items})

    # ----- the pipeline every /v1 request goes through --------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/_fake/"):
            return await handler(request)
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers={
                k.lower(): v for k, v in request.headers.items() if k.lower() != "authorization"
            },
            content_type=request.content_type,
        )
        self.requests.append(record)
        started = asyncio.get_running_loop().time()
        try:
            response = await self._serve(request, handler, record)
        except HttpError as err:
            response = self._error_response(err)
        except web.HTTPException as exc:  # no such route or method: answer in the router's shape
            response = self._error_response(HttpError(exc.status, origin_body(exc.reason)))
        if (
            record.fault != "drop"
            and request.transport is not None
            and not request.transport.is_closing()
        ):
            record.status = response.status
        elapsed = asyncio.get_running_loop().time() - started
        log.info("%s %s -> %s%s %.3fs", request.method, request.path, record.status or "dropped",
                 f" (fault {record.fault})" if record.fault else "", elapsed)  # fmt: skip
        return response

    async def _serve(
        self, request: web.Request, handler: Any, record: RecordedRequest
    ) -> web.StreamResponse:
        request[RECORD_KEY] = record
        request[BODY_KEY] = await self._read_body(request, record)
        self._authorize(request)
        fault = self.faults.take(request.method, request.path, TRANSPORT_KINDS)
        if fault is not None:
            record.fault = fault.kind
            early = await self._transport_fault(request, fault)
            if early is not None:
                return early
        response = await handler(request)
        if fault is not None and fault.kind == "trickle":
            return await self._trickle(request, response, fault)
        return response

    async def _read_body(self, request: web.Request, record: RecordedRequest) -> Any:
        if request.method != "POST":
            return None
        try:
            if request.content_type == "multipart/form-data":
                form = await _read_form(request)
                record.body = await asyncio.to_thread(_summarise_form, form)
                return form
            raw = await request.read()
            if request.content_type != "application/json":
                return _BadBody(
                    f"Unsupported Content-Type {request.content_type!r}; send application/json."
                )
            record.body = await asyncio.to_thread(json.loads, raw)
            return record.body
        except ValueError as exc:
            return _BadBody(f"We could not parse the body of your request: {exc}")

    def _authorize(self, request: web.Request) -> None:
        if request.path.startswith("/v1/files/"):
            return  # downloads stand for pre-signed URLs: no key needed, any header ignored
        header = request.headers.get("Authorization")
        if header is None:
            if request.method == "POST":
                raise unauthorized("Missing API key. Send 'Authorization: Bearer <key>'.")
            return  # GET /models needs no key; a key that is sent must be right
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or key.strip() not in self.api_keys:
            raise unauthorized("Invalid API key.")

    async def _transport_fault(
        self, request: web.Request, fault: Fault
    ) -> web.StreamResponse | None:
        """Apply a status/latency/hang/drop fault; None means "go on and answer normally"."""
        if fault.kind == "trickle":
            return None  # it slows the normal answer down, once there is one
        if fault.kind == "status":
            raise status_error(fault.status, fault.shape, fault.message, fault.retry_after)
        if fault.kind == "latency" and not await self._pause(fault.seconds):
            return None
        if fault.kind == "hang":
            await self._pause(HANG_LIMIT)
        return self._drop(request)

    async def _trickle(
        self, request: web.Request, response: web.StreamResponse, fault: Fault
    ) -> web.StreamResponse:
        """Send ``response`` whole and correct, ``fault.chunk`` bytes every ``fault.seconds``.

        The headers (Content-Length included) go at once, so a client sees a healthy answer
        that is merely slow; each read gets a byte well within any per-read timeout.
        """
        body = response.body if isinstance(response, web.Response) else None
        if not isinstance(body, bytes):
            return response  # nothing this fake serves, but a stream cannot be slowed here
        slow = web.StreamResponse(status=response.status, headers=response.headers)
        slow.content_length = len(body)
        await slow.prepare(request)
        try:
            for start in range(0, len(body), fault.chunk):
                if start and await self._pause(fault.seconds):
                    if request.transport is not None:  # stopping: cut the answer short
                        request.transport.close()
                    return slow
                await slow.write(body[start : start + fault.chunk])
            await slow.write_eof()
        except ConnectionError:  # the client gave up waiting, which is the point
            pass
        return slow

    async def _pause(self, seconds: float) -> bool:
        """Sleep, cut short by stop(); True if the server is stopping."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        """Close the TCP connection without a byte of response.

        aiohttp then fails to write the returned response and treats that as a client
        disconnect, which it ignores quietly.
        """
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=500)

    def _error_response(self, err: HttpError) -> web.Response:
        if self.mode.error_shape == "openrouter" and not isinstance(err.body, str):
            err = HttpError(
                err.status, modes.openrouter_error(err.status, err.body), headers=err.headers
            )
        body, content_type = err.payload()
        return web.Response(
            status=err.status, body=body, content_type=content_type, headers=err.headers
        )

    # ----- endpoints -------------------------------------------------------------------------

    @staticmethod
    def _json_body(request: web.Request) -> Any:
        body = request[BODY_KEY]
        if isinstance(body, _BadBody):
            raise invalid(None, body.message, "invalid_json")
        if body is None:
            raise invalid(None, "The request body is empty; send a JSON object.", "invalid_json")
        return body

    def _store_file(self, data: bytes, mime: str) -> str:
        file_id = f"file_{secrets.token_hex(12)}"
        self._files[file_id] = (data, mime)
        return f"{self.base_url}/files/{file_id}"

    def _resolve_file(self, file_id: str) -> bytes | None:
        entry = self._files.get(file_id)
        return entry[0] if entry else None

    def _body_fault(self, request: web.Request) -> str | None:
        """Take a body-level fault now that the request is known to be valid; its kind."""
        fault = self._take_body_fault(request)
        return None if fault is None else fault.kind

    def _take_body_fault(self, request: web.Request) -> Fault | None:
        fault = self.faults.take(request.method, request.path, BODY_KINDS)
        if fault is not None:
            request[RECORD_KEY].fault = fault.kind
        return fault

    async def _images_answer(self, request: web.Request, job: Any) -> web.Response:
        fault = self._take_body_fault(request)
        kind = None if fault is None else fault.kind
        if kind == "refusal":
            raise moderation_blocked()
        store = self._store_file
        if kind == "url" and fault is not None and fault.url is not None:
            elsewhere = fault.url  # a url answer pointing away from this fake, e.g. at 10.0.0.1

            def store(_data: bytes, _mime: str) -> str:
                return elsewhere

        if self.mode.always_b64:
            job.response_format = "b64_json"
        report = self.mode.cost_in == "usage"
        body = await asyncio.to_thread(responses.images_body, job, kind, store, report)
        return web.Response(
            body=body, content_type="application/json", headers=self._cost(job, None)
        )

    def _cost(self, job: Any, fault: str | None) -> dict[str, str]:
        """LiteLLM's cost header, in the mode that reports cost there."""
        if self.mode.cost_in != "header":
            return {}
        if isinstance(job, ImagesJob):
            cost = responses.images_cost(job)
        else:
            cost = responses.chat_cost(job, fault)
        return {"x-litellm-response-cost": f"{cost:.6f}"}

    def _images_route(self, fields: Any) -> None:
        """What this mode refuses before reading an images request."""
        if not self.mode.images_api:
            raise HttpError(404, origin_body("Not Found"))
        if self.mode.always_b64 and isinstance(fields, dict) and "response_format" in fields:
            raise invalid(
                "response_format", "Unknown parameter: 'response_format'.", "unknown_parameter"
            )

    async def _generations(self, request: web.Request) -> web.Response:
        body = self._json_body(request)
        self._images_route(body)
        mode = self.mode
        job = await asyncio.to_thread(parse_generation, body, mode.images_models, mode.extra_fields)
        return await self._images_answer(request, job)

    async def _edits(self, request: web.Request) -> web.Response:
        body = request[BODY_KEY]
        mode = self.mode
        if isinstance(body, dict) and request.content_type == "multipart/form-data":
            self._images_route(body)
            job = await asyncio.to_thread(parse_edit_form, body, mode.images_models)
        else:
            self._images_route(self._json_body(request))
            job = await asyncio.to_thread(
                parse_edit_json,
                self._json_body(request),
                self._resolve_file,
                mode.images_models,
                mode.extra_fields,
            )
        return await self._images_answer(request, job)

    async def _chat(self, request: web.Request) -> web.Response:
        mode = self.mode
        job = await asyncio.to_thread(
            parse_chat, self._json_body(request), mode.chat_models, mode.extra_fields
        )
        fault = self._body_fault(request)
        wanted = job.modalities if isinstance(job.modalities, list) else []
        if mode.needs_modalities:
            if job.model in mode.image_only and "text" in wanted:
                raise HttpError(
                    404,
                    openai_body(
                        "No endpoints found that support the requested output modalities: "
                        + ", ".join(wanted)
                    ),
                )
            if fault == "refusal":
                raise HttpError(403, modes.flagged(job.model))
            if "image" not in wanted:
                fault = "no_image"  # the model answers, in words only
        report = mode.cost_in == "usage"
        body = await asyncio.to_thread(responses.chat_body, job, fault, report)
        return web.Response(
            body=body, content_type="application/json", headers=self._cost(job, fault)
        )

    async def _models(self, request: web.Request) -> web.Response:
        if self._body_fault(request) == "malformed_json":
            return web.Response(body=responses.MALFORMED_BODY, content_type="application/json")
        if self.mode.listing == "requesty":
            return web.json_response(responses.models_body())
        return web.json_response(modes.models_body(self.mode))

    async def _download(self, request: web.Request) -> web.Response:
        entry = self._files.get(request.match_info["file_id"])
        if entry is None:
            raise HttpError(404, origin_body("File not found"))
        return web.Response(body=entry[0], content_type=entry[1])
