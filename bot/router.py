"""RouterClient: image generation, edits and chat over one shared ``httpx.AsyncClient``.

The only module that imports httpx; every foreign failure is mapped to ``bot.errors`` here::

    httpx.TimeoutException             -> RouterUnavailable "timed out"        retried
    other httpx.TransportError         -> RouterUnavailable "couldn't reach"   retried
    408 409 500 502 503 504 529        -> RouterUnavailable                    retried
    429                                -> RateLimited (retry_after)            retried
    400 moderation / content policy    -> Refused (never retried)
    401 403 / 402 412 / 404 / other    -> AuthFailed / OutOfCredit / ModelNotFound / BadRequest
    200 not JSON, bad base64 or image  -> BadResponse  } not retried: the call may have been
    200 without an image               -> NoImage      } billed, so the user gets a Retry button
    200, content_filter, no image      -> Refused

The API key goes only to the router's own origin and is scrubbed from every message.
"""

from __future__ import annotations

import asyncio
import binascii
import concurrent.futures
import contextvars
import email.utils
import functools
import io
import json
import logging
import math
import random
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar

import httpx
from PIL import Image
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from bot import media
from bot.domain import GeneratedImage, ImageSpec, InputImage, RouterResult, Usage
from bot.errors import (
    AuthFailed,
    BadRequest,
    BadResponse,
    InputError,
    ModelNotFound,
    NoImage,
    OutOfCredit,
    RateLimited,
    Refused,
    RouterError,
    RouterUnavailable,
    TooManyImages,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

USER_AGENT = "Easel/0.1"
MAX_EDIT_IMAGES = 16
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
REFUSAL_CODES = frozenset({"moderation_blocked", "content_policy_violation"})
REFUSAL_TYPES = frozenset({"image_generation_user_error"})
DAMAGED = "The image service sent back a damaged image."
UNREADABLE = "The image service sent back something unreadable."
_MESSAGE_LIMIT = 300
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 8.0
_IMAGE_FIELDS = ("n", "size", "quality", "background", "output_format", "output_compression")
# Decoding a 4K image's ~40 MB of base64 in one call holds the GIL ~100 ms, and json.loads of its
# answer ~60 ms: even in a worker thread that stalls the event loop. So base64 is decoded a slice
# at a time, and a large answer's image strings are cut out before json.loads (``_loads``).
_B64_SLICE = 512 * 1024  # characters per a2b_base64 call (whole quanta): about 1 ms each
_SCAN_WINDOW = 1024 * 1024  # bytes per find/search call
_LARGE_ANSWER = 1024 * 1024  # answers over this get their image strings cut out
_CUT_MIN = 64 * 1024  # the shortest string worth cutting out
_JSON_SPACE = rb"[ \t\n\r]{0,16}"
_IMAGE_KEY = re.compile(rb'"(b64_json|url|image_url)"' + _JSON_SPACE + b":" + _JSON_SPACE + b'"')
# Printable ASCII but '"', ',' and '\\' (no JSON escapes), as _decode_data_url reads a header.
_DATA_URL_HEADER = re.compile(rb"data:([!#-+\--\[\]-~]{0,200}),")
_PLACEHOLDER = "easel-cut-out:{}"
_PLACEHOLDER_PREFIX = b"easel-cut-out:"
# Where the answer readers take an image from (None: any list index). A string cut out from
# anywhere else goes back as the string.
_IMAGE_SLOTS: frozenset[tuple[str | None, ...]] = frozenset(
    [
        ("data", None, "b64_json"),
        ("data", None, "url"),
        *[
            ("choices", None, "message", part, None, *tail)
            for part in ("images", "content")
            for tail in (("url",), ("image_url",), ("image_url", "url"))
        ],
    ]
)


# The CPU-bound parsing and decoding share one thread. They hold the GIL (in ~1 ms slices), so
# more threads would not finish sooner, only keep the event loop waiting longer for the GIL.
_DECODER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="router-decode")


async def _off_loop(func: Callable[..., T], *args: Any) -> T:
    """``asyncio.to_thread`` on the decoding thread."""
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(
        _DECODER, functools.partial(context.run, func, *args)
    )


class _Transient(Exception):
    """A failure worth another attempt; carries the error to raise once attempts run out."""

    def __init__(self, error: RouterError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


@dataclass(frozen=True, eq=False)
class _Inline:
    """An image string cut out of a large answer and decoded while parsing it (``_loads``)."""

    data: bytes
    text: memoryview  # the JSON string's characters (strict base64, so no escapes)
    mime: str | None = None  # the type a data URL declares


@dataclass(frozen=True)
class _ErrorInfo:
    """What an error body says, from either documented shape."""

    message: str | None = None
    code: str | None = None
    type: str | None = None
    categories: tuple[str, ...] = ()
    flagged: bool = False  # OpenRouter's 403 "input flagged" (metadata.reasons)


class RouterClient:
    """One router, one connection pool; open with ``async with`` and share it.

    Transient failures are retried at most ``max_retries`` times, and no wait is started that
    would end more than ``retry_budget`` seconds after the first attempt began.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 180.0,
        max_retries: int = 3,
        retry_budget: float = 120.0,
        max_download_bytes: int = 100 * 1024 * 1024,
        app_name: str = "Easel",
        app_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._origin = _origin(self._base_url)
        self._api_key = api_key
        self._max_retries = max_retries
        self._retry_budget = retry_budget
        self._max_download_bytes = max_download_bytes
        self._sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._router_headers = {"HTTP-Referer": app_url or app_name, "X-Title": app_name}
        if api_key:
            self._router_headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 20.0)),
            headers={"User-Agent": USER_AGENT},
        )

    def __repr__(self) -> str:
        return f"RouterClient(base_url={self._base_url!r})"

    async def __aenter__(self) -> RouterClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- public calls ---------------------------------------------------------------------------

    async def generate(
        self, prompt: str, spec: ImageSpec, *, user: str | None = None
    ) -> RouterResult:
        """POST /images/generations; always asks for b64_json (Requesty defaults to url)."""
        body: dict[str, Any] = {"model": spec.model, "prompt": prompt, **_image_fields(spec)}
        body["response_format"] = "b64_json"
        if user:
            body["user"] = user
        data = await self._call("POST", "/images/generations", json_body=body, model=spec.model)
        return await self._images_result(data, spec.model)

    async def edit(
        self,
        prompt: str,
        images: Sequence[InputImage],
        spec: ImageSpec,
        *,
        mask: InputImage | None = None,
        as_json: bool = False,
        file_ids: Sequence[str] = (),
        user: str | None = None,
    ) -> RouterResult:
        """POST /images/edits, multipart (``image[]`` parts) or JSON (``images`` refs, forced by file_ids)."""
        count = len(images) + len(file_ids)
        if count > MAX_EDIT_IMAGES:
            raise TooManyImages(
                f"The image service takes at most {MAX_EDIT_IMAGES} input images; you gave {count}."
            )
        if count == 0:
            raise InputError("An edit needs at least one input image.")
        fields: dict[str, Any] = {"model": spec.model, "prompt": prompt, **_image_fields(spec)}
        if spec.input_fidelity is not None:
            fields["input_fidelity"] = spec.input_fidelity
        fields["response_format"] = "b64_json"
        if user:
            fields["user"] = user
        if as_json or file_ids:
            refs, mask_ref = await asyncio.to_thread(_image_refs_json, images, mask)
            fields["images"] = refs + [{"file_id": file_id} for file_id in file_ids]
            if mask_ref is not None:
                fields["mask"] = mask_ref
            data = await self._call("POST", "/images/edits", json_body=fields, model=spec.model)
        else:
            files = [("image[]", (image.name, image.data, image.mime)) for image in images]
            if mask is not None:
                files.append(("mask", (mask.name, mask.data, mask.mime)))
            form = {key: str(value) for key, value in fields.items()}
            data = await self._call(
                "POST", "/images/edits", form=form, files=files, model=spec.model
            )
        return await self._images_result(data, spec.model)

    async def chat(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *,
        aspect_ratio: str | None = None,
        image_size: str | None = None,
        modalities: Sequence[str] | None = None,
        user: str | None = None,
    ) -> RouterResult:
        """POST /chat/completions for models that answer with ``message.images``."""
        body: dict[str, Any] = {"model": model, "messages": messages}
        image_config = {
            key: value
            for key, value in (("aspect_ratio", aspect_ratio), ("image_size", image_size))
            if value
        }
        if image_config:
            body["image_config"] = image_config
        if modalities:  # OpenRouter wants ["image", "text"]; Requesty does not document it
            body["modalities"] = list(modalities)
        if user:
            body["user"] = user
        data = await self._call("POST", "/chat/completions", json_body=body, model=model)
        return await self._chat_result(data, model)

    async def check(self) -> list[str]:
        """GET /models with the key: the model ids, or AuthFailed when the key is refused."""
        data = await self._call("GET", "/models")
        entries = data.get("data") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            return []
        return [e["id"] for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)]

    @staticmethod
    def user_message(text: str, images: Sequence[InputImage]) -> dict[str, Any]:
        """A chat user turn: plain text, or text plus ``image_url`` data-URL parts."""
        if not images:
            return {"role": "user", "content": text}
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        content += [{"type": "image_url", "image_url": {"url": media.data_url(i)}} for i in images]
        return {"role": "user", "content": content}

    # -- requests and retries -------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        form: dict[str, str] | None = None,
        files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
        model: str | None = None,
    ) -> Any:
        """One router request with retries; returns the parsed JSON of a 2xx answer."""
        url = self._base_url + path
        headers = {**self._router_headers, "Accept": "application/json"}
        content: bytes | None = None
        if json_body is not None:
            content = await asyncio.to_thread(_dumps, json_body)
            headers["Content-Type"] = "application/json"

        async def attempt() -> bytes:
            request = self._client.build_request(
                method, url, headers=headers, content=content, data=form, files=files
            )
            response, body = await self._send(request, path)
            if not response.is_success:
                raise self._status_error(response, body, model)
            return body

        body = await self._retrying(attempt, f"{method} {path}")
        log.debug("Router %s %s answered with %d bytes", method, path, len(body))
        return await _off_loop(_loads, body)

    async def _send(
        self, request: httpx.Request, what: str, *, follow_redirects: bool = False
    ) -> tuple[httpx.Response, bytes]:
        try:
            response = await self._client.send(
                request, stream=True, follow_redirects=follow_redirects
            )
            try:
                return response, await self._read_capped(response)
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            error = RouterUnavailable(
                "The image service timed out. Try again in a minute.",
                detail=f"{what}: {type(exc).__name__}",
            )
            raise _Transient(error) from exc
        except httpx.TransportError as exc:
            error = RouterUnavailable(
                "Couldn't reach the image service. Try again in a minute.",
                detail=f"{what}: {type(exc).__name__}: {self._clean(str(exc))}",
            )
            raise _Transient(error) from exc
        except httpx.HTTPError as exc:
            raise BadResponse(UNREADABLE, detail=f"{what}: {type(exc).__name__}") from exc

    async def _read_capped(self, response: httpx.Response) -> bytes:
        cap = self._max_download_bytes
        length = response.headers.get("content-length", "")
        if length.isdigit() and int(length) > cap:
            raise _too_large(cap, response.status_code)
        chunks: list[bytes] = []
        total = 0
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if total > cap:
                raise _too_large(cap, response.status_code)
            chunks.append(chunk)
        if total > _LARGE_ANSWER:  # copying 40 MB takes the loop thread ~10 ms; bytes.join
            return await asyncio.to_thread(b"".join, chunks)  # lets go of the GIL meanwhile
        return b"".join(chunks)

    async def _retrying(self, attempt: Callable[[], Awaitable[T]], what: str) -> T:
        retrying = AsyncRetrying(
            sleep=self._do_sleep,
            stop=self._should_stop,
            wait=self._wait,
            retry=retry_if_exception_type(_Transient),
            before_sleep=lambda state: _log_retry(state, what, self._max_retries),
            reraise=True,
        )
        try:
            result: T = await retrying(attempt)
        except _Transient as transient:
            log.warning("Router %s gave up: %s", what, transient.error)
            raise transient.error from transient.__cause__
        return result

    async def _do_sleep(self, seconds: float) -> None:
        await self._sleep(seconds)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Transient) and exc.retry_after is not None:
            return exc.retry_after
        # Exponential with jitter, written out: tenacity's wait_exponential_jitter changed its
        # arguments between the versions pyproject allows.
        return min(
            _BACKOFF_CAP, _BACKOFF_BASE * 2.0 ** (state.attempt_number - 1) + random.uniform(0, 0.5)
        )

    def _should_stop(self, state: RetryCallState) -> bool:
        if state.attempt_number > self._max_retries:
            return True
        # max() so a fake sleep in tests spends budget too; never start a sleep past the budget.
        used = max(state.seconds_since_start or 0.0, state.idle_for)
        return used + state.upcoming_sleep > self._retry_budget

    # -- errors -----------------------------------------------------------------------------------

    def _status_error(
        self, response: httpx.Response, body: bytes, model: str | None
    ) -> RouterError | _Transient:
        status = response.status_code
        info = self._error_info(_try_json(body))
        retry_after = _retry_after(response.headers)
        error = self._error_for(status, info, retry_after=retry_after, model=model)
        log.info("Router answered HTTP %d (%s): %s", status, info.code, info.message)
        return _Transient(error, retry_after) if status in RETRY_STATUSES else error

    def _error_for(
        self, status: int, info: _ErrorInfo, *, retry_after: float | None, model: str | None
    ) -> RouterError:
        code = info.code or info.type
        detail = (
            f"HTTP {status}: {info.message}" if info.message else f"HTTP {status} from the router"
        )
        if (status == 400 and _is_refusal(info)) or (status == 403 and info.flagged):
            return Refused(
                model_text=info.message,
                categories=info.categories,
                detail=detail,
                status=status,
                router_code=code,
            )
        if status == 429:
            return RateLimited(
                retry_after=retry_after, detail=detail, status=status, router_code=code
            )
        user_message: str | None = None
        cls: type[RouterError]
        if status in (401, 403):
            cls = AuthFailed
        elif status in (402, 412):
            cls = OutOfCredit
        elif status == 404:
            cls = ModelNotFound
            if model:
                user_message = f"The image service doesn't know the model {model}."
        elif status in RETRY_STATUSES or status >= 500:
            cls = RouterUnavailable
        else:
            cls = BadRequest
            if info.message:
                user_message = f"The image service rejected the request: {info.message}"
        return cls(user_message, detail=detail, status=status, router_code=code)

    def _error_info(self, parsed: Any) -> _ErrorInfo:
        error = parsed.get("error") if isinstance(parsed, dict) else None
        if isinstance(error, str):
            return _ErrorInfo(message=self._clean(error))
        if not isinstance(error, dict):
            message = parsed.get("message") if isinstance(parsed, dict) else None
            return _ErrorInfo(message=self._clean(message) if isinstance(message, str) else None)
        message = error.get("message")
        code = error.get("code")
        etype = error.get("type")
        moderation = error.get("moderation_details")
        metadata = error.get("metadata")
        categories = moderation.get("categories") if isinstance(moderation, dict) else None
        reasons = metadata.get("reasons") if isinstance(metadata, dict) else None
        return _ErrorInfo(
            message=self._clean(message) if isinstance(message, str) else None,
            code=self._clean(str(code))
            if isinstance(code, str | int) and not isinstance(code, bool)
            else None,
            type=self._clean(etype) if isinstance(etype, str) else None,
            categories=tuple(self._clean(c) for c in _strings(categories) or _strings(reasons)),
            flagged=isinstance(metadata, dict)
            and ("reasons" in metadata or "flagged_input" in metadata),
        )

    def _raise_embedded_error(self, data: dict[str, Any]) -> None:
        """Some routers answer 200 with an error object instead of a result."""
        if "error" not in data or "choices" in data or "data" in data:
            return
        info = self._error_info(data)
        code = data["error"].get("code") if isinstance(data["error"], dict) else None
        status = code if isinstance(code, int) and 400 <= code <= 599 else 502
        raise self._error_for(status, info, retry_after=None, model=None)

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]") if self._api_key else text

    def _clean(self, text: str) -> str:
        """A router message made safe to show: no key, one line, short."""
        text = " ".join(self._scrub(text).split())
        return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"

    # -- results --------------------------------------------------------------------------------

    async def _images_result(self, data: Any, model: str) -> RouterResult:
        data = _as_dict(data)
        self._raise_embedded_error(data)
        entries = data.get("data")
        images: list[GeneratedImage] = []
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, dict):
                continue
            if isinstance(entry.get("b64_json"), str | _Inline):
                images.append(await _off_loop(_decode_b64, entry["b64_json"]))
            elif isinstance(entry.get("url"), str | _Inline):
                images.append(await self._image_from_url(entry["url"]))
        if not images:
            raise NoImage(detail=f"{model}: no image in data[]", status=200)
        return RouterResult(
            images=tuple(images),
            usage=_usage(data.get("usage")),
            model=data.get("model") if isinstance(data.get("model"), str) else model,
        )

    async def _chat_result(self, data: Any, model: str) -> RouterResult:
        data = _as_dict(data)
        self._raise_embedded_error(data)
        choices = data.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else {}
        choice = choice if isinstance(choice, dict) else {}
        message = choice.get("message")
        message = message if isinstance(message, dict) else {}
        finish = (
            choice.get("finish_reason") if isinstance(choice.get("finish_reason"), str) else None
        )
        text = _message_text(message.get("content"))
        images = [await self._image_from_url(url) for url in _image_urls(message)]
        if not images:
            model_text = self._scrub(text) if text else None
            if finish == "content_filter":
                raise Refused(model_text=model_text, status=200, router_code=finish)
            raise NoImage(
                model_text=model_text,
                detail=f"{model}: finish_reason {finish}",
                status=200,
                router_code=finish,
            )
        reasoning = message.get("reasoning_details")
        return RouterResult(
            images=tuple(images),
            text=text,
            reasoning_details=reasoning if isinstance(reasoning, list) else None,
            usage=_usage(data.get("usage")),
            model=data.get("model") if isinstance(data.get("model"), str) else model,
            finish_reason=finish,
        )

    async def _image_from_url(self, url: str | _Inline) -> GeneratedImage:
        if isinstance(url, _Inline):
            return await _off_loop(_checked_inline, url)
        if url.startswith("data:"):
            return await _off_loop(_decode_data_url, url)
        try:
            if not url.startswith(("https://", "http://")):
                raise ValueError("not http(s)")
            origin = _origin(url)
            if not origin[1]:
                raise ValueError("no host")
        except (ValueError, httpx.InvalidURL) as exc:
            raise BadResponse(UNREADABLE, detail="the image reference is not a usable URL") from exc
        body = await self._download(url, origin)
        return await _off_loop(_checked_image, body)

    async def _download(self, url: str, origin: tuple[str, str, int | None]) -> bytes:
        """GET an image URL; the key goes only to the router's own origin."""
        headers = self._router_headers if origin == self._origin else {}
        host = origin[1]

        async def attempt() -> bytes:
            request = self._client.build_request("GET", url, headers=headers)
            response, body = await self._send(request, "image download", follow_redirects=True)
            status = response.status_code
            if status in RETRY_STATUSES:
                error = RouterUnavailable(
                    detail=f"HTTP {status} downloading from {host}", status=status
                )
                raise _Transient(error, _retry_after(response.headers))
            if not response.is_success:
                raise BadResponse(
                    "The image service's download link for the result didn't work.",
                    detail=f"HTTP {status} downloading from {host}",
                    status=status,
                )
            return body

        return await self._retrying(attempt, f"image download from {host}")


# -- pure helpers (several run in worker threads) ------------------------------------------------


def _is_refusal(info: _ErrorInfo) -> bool:
    # Requesty's {"origin", "message"} shape may carry the provider's code only inside the text.
    message = info.message or ""
    return (
        info.code in REFUSAL_CODES
        or info.type in REFUSAL_TYPES
        or any(code in message for code in REFUSAL_CODES)
    )


def _verify_image(data: bytes) -> tuple[str, int, int]:
    """A cheap check that the bytes are an image: (MIME type, width, height) or BadResponse."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            mime = Image.MIME.get(image.format or "")
            width, height = image.size
            image.verify()
    except Exception as exc:  # Pillow raises many types for damaged data
        raise BadResponse(DAMAGED, detail=f"image check failed: {type(exc).__name__}") from exc
    if not mime or not mime.startswith("image/"):
        raise BadResponse(DAMAGED, detail="the data is not an image")
    return mime, width, height


def _checked_image(data: bytes) -> GeneratedImage:
    mime, width, height = _verify_image(data)
    return GeneratedImage(data, mime, width, height)


def _checked_inline(item: _Inline) -> GeneratedImage:
    image = _checked_image(item.data)
    if item.mime and item.mime != image.mime:
        log.debug("Data URL says %s but the bytes are %s", item.mime, image.mime)
    return image


def _decode_b64(payload: str | _Inline, start: int = 0) -> GeneratedImage:
    """The image in ``payload[start:]``, base64 that may hold whitespace; BadResponse if damaged."""
    if isinstance(payload, _Inline):
        return _checked_inline(payload)
    try:
        data = _b64decode(payload, start)
    except ValueError as exc:  # binascii.Error, or a str that is not ASCII
        raise BadResponse(DAMAGED, detail="invalid base64 image data") from exc
    return _checked_image(data)


def _b64decode(payload: str | memoryview, start: int = 0) -> bytes:
    """Strict base64 decoding of ``payload[start:]`` a slice at a time; ValueError if invalid.

    Whitespace in a str is skipped (wrapped lines), as ``b64decode("".join(s.split()),
    validate=True)`` does, but it is only looked for in a slice that fails to decode.
    """
    parts: list[bytes] = []
    padded = False

    def decode(text: str | memoryview) -> None:
        nonlocal padded
        if not text:
            return
        if padded:  # each slice is whole quanta, so "=" may only end the last one
            raise binascii.Error("Excess data after padding")
        try:
            parts.append(binascii.a2b_base64(text, strict_mode=True))
        except binascii.Error:
            # Strict a2b_base64 ignores surplus "=" after whole quanta at the end of its input,
            # but calls them leading padding at the start of one.
            rest = text.strip("=") if isinstance(text, str) else bytes(text).strip(b"=")
            if not parts or rest:
                raise
        padded = text[-1] in ("=", ord("="))

    carry = ""  # characters past the last whole quantum, once whitespace shifted the slices
    for begin in range(start, len(payload), _B64_SLICE):
        piece = payload[begin : begin + _B64_SLICE]
        if not carry:
            try:
                decode(piece)
                continue
            except ValueError:
                if not isinstance(piece, str):
                    raise
        assert isinstance(piece, str)
        text = carry + "".join(piece.split())
        cut = len(text) - len(text) % 4
        carry = text[cut:]
        decode(text[:cut])
    decode(carry)
    return b"".join(parts)  # bytes.join lets go of the GIL for large results


def _decode_data_url(url: str) -> GeneratedImage:
    comma = url.find(",", len("data:"))  # not partition: that would copy the whole payload
    params = url[len("data:") : comma].split(";")
    if comma < 0 or "base64" not in params[1:]:
        raise BadResponse(DAMAGED, detail="image data URL is not base64")
    image = _decode_b64(url, comma + 1)
    if params[0] and params[0] != image.mime:
        log.debug("Data URL says %s but the bytes are %s", params[0], image.mime)
    return image


def _image_refs_json(
    images: Sequence[InputImage], mask: InputImage | None
) -> tuple[list[dict[str, str]], dict[str, str] | None]:
    refs = [{"image_url": media.data_url(image)} for image in images]
    return refs, ({"image_url": media.data_url(mask)} if mask is not None else None)


def _image_fields(spec: ImageSpec) -> dict[str, Any]:
    values = {name: getattr(spec, name) for name in _IMAGE_FIELDS}
    return {name: value for name, value in values.items() if value is not None}


def _dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _loads(body: bytes) -> Any:
    try:
        if len(body) > _LARGE_ANSWER and json.detect_encoding(body) in ("utf-8", "utf-8-sig"):
            return _loads_large(body)
        return json.loads(body)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise BadResponse(UNREADABLE, detail="the answer is not JSON", status=200) from exc


def _loads_large(body: bytes) -> Any:
    """``json.loads`` of a large answer without holding the GIL for long.

    Each long ``b64_json`` value, and each base64 data URL under ``url``/``image_url``, is
    decoded a slice at a time straight from the body and swapped for a short placeholder; only
    the small remainder goes through json.loads. A string is cut out only when its characters
    are strict base64 (so no escapes, quotes or control characters: the JSON text is the value)
    and it follows ``"key":``, so it is a whole string value: the result is json.loads's, and
    malformed JSON fails the same way. Anything else stays for json.loads and the str path.
    """
    view = memoryview(body)
    pieces: list[bytes] = []
    cut: dict[str, _Inline] = {}
    kept = 0  # body[:kept] is in pieces
    pos = 0
    while (match := _search(_IMAGE_KEY, body, pos)) is not None:
        start = match.end()
        end = _find_quote(body, start)
        if end < 0:
            break
        pos = end + 1
        if end - start < _CUT_MIN:
            continue
        payload, mime = start, None
        if match[1] != b"b64_json":
            header = _DATA_URL_HEADER.match(body, start, end)
            params = header[1].split(b";") if header else []
            if header is None or b"base64" not in params[1:]:
                continue
            payload, mime = header.end(), params[0].decode("ascii")
        try:
            data = _b64decode(view[payload:end])
        except ValueError:  # escaped "/", whitespace or damage: json.loads and _decode_b64 judge
            continue
        placeholder = _PLACEHOLDER.format(len(cut))
        cut[placeholder] = _Inline(data, view[start:end], mime)
        pieces += (body[kept:start], placeholder.encode("ascii"))
        kept = end
    if not cut:
        return json.loads(body)
    pieces.append(body[kept:])
    remainder = b"".join(pieces)
    if remainder.count(_PLACEHOLDER_PREFIX) != len(cut):  # the answer has the text already
        return json.loads(body)
    return _put_back(json.loads(remainder), cut)


def _put_back(tree: Any, cut: dict[str, _Inline]) -> Any:
    """Replace placeholders: an ``_Inline`` in an image slot, the original string elsewhere."""
    left = len(cut)
    stack: list[tuple[Any, tuple[str | None, ...]]] = []
    if isinstance(tree, dict | list):
        stack.append((tree, ()))
    while stack and left:
        node, path = stack.pop()
        # (key or index, path step, value); a list index is the step None
        items: list[tuple[Any, str | None, Any]] = (
            [(key, key, value) for key, value in node.items()]
            if isinstance(node, dict)
            else [(index, None, value) for index, value in enumerate(node)]
        )
        for key, step, value in items:
            where = (*path, step)
            if isinstance(value, dict | list):
                stack.append((value, where))
            elif isinstance(value, str) and value in cut:
                item = cut[value]
                node[key] = item if where in _IMAGE_SLOTS else str(item.text, "ascii")
                left -= 1
    return tree


def _find_quote(data: bytes, start: int) -> int:
    """``data.find(b'"', start)``, a window at a time so other threads get the GIL between."""
    while start < len(data):
        found = data.find(b'"', start, start + _SCAN_WINDOW)
        if found >= 0:
            return found
        start += _SCAN_WINDOW
    return -1


def _search(pattern: re.Pattern[bytes], data: bytes, start: int) -> re.Match[bytes] | None:
    """``pattern.search(data, start)`` a window at a time; a match is at most 64 bytes long."""
    while start < len(data):
        match = pattern.search(data, start, start + _SCAN_WINDOW + 64)
        if match:
            return match
        start += _SCAN_WINDOW
    return None


def _try_json(body: bytes) -> Any:
    if len(body) > 1024 * 1024:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _as_dict(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadResponse(UNREADABLE, detail="the answer is not a JSON object", status=200)
    return data


def _message_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content or None
    if isinstance(content, list):
        parts = [
            p["text"]
            for p in content
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        ]
        return "\n".join(parts) or None
    return None


def _image_urls(message: dict[str, Any]) -> list[str | _Inline]:
    """Every image reference in a chat message: ``message.images`` and image content parts."""
    images = message.get("images")
    entries: list[Any] = list(images) if isinstance(images, list) else []
    content = message.get("content")
    if isinstance(content, list):
        entries += [p for p in content if isinstance(p, dict) and p.get("type") == "image_url"]
    urls: list[str | _Inline] = []
    for entry in entries:
        ref = entry.get("image_url") if isinstance(entry, dict) else entry
        if isinstance(ref, dict):
            ref = ref.get("url")
        if ref is None and isinstance(entry, dict):
            ref = entry.get("url")
        if isinstance(ref, _Inline) or (isinstance(ref, str) and ref):
            urls.append(ref)
    return urls


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    return Usage(
        input_tokens=_int(raw.get("input_tokens", raw.get("prompt_tokens"))),
        output_tokens=_int(raw.get("output_tokens", raw.get("completion_tokens"))),
        total_tokens=_int(raw.get("total_tokens")),
        cost=_float(raw.get("cost")),
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and not isinstance(value, bool) else None


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    millis = _float(headers.get("retry-after-ms"))
    if millis is not None:
        return max(0.0, millis / 1000)
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _float(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port


def _too_large(cap: int, status: int) -> BadResponse:
    return BadResponse(
        "The image service sent back a result that is too large.",
        detail=f"answer over {cap} bytes",
        status=status,
    )


def _log_retry(state: RetryCallState, what: str, max_retries: int) -> None:
    exc = state.outcome.exception() if state.outcome else None
    reason = exc.error.detail if isinstance(exc, _Transient) else exc
    log.warning(
        "Router %s failed (%s); retry %d of %d in %.1f s",
        what,
        reason,
        state.attempt_number,
        max_retries,
        state.upcoming_sleep,
    )
