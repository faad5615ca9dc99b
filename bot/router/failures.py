"""Router failures: status codes and error bodies to ``bot.errors``, Retry-After, key scrubbing."""

from __future__ import annotations

import email.utils
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from bot.errors import (
    AuthFailed,
    BadRequest,
    BadResponse,
    ModelNotFound,
    OutOfCredit,
    RateLimited,
    Refused,
    RouterError,
    RouterPathNotFound,
    RouterUnavailable,
)
from bot.router import decoding
from bot.router.decoding import finite_float

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
REFUSAL_CODES = frozenset({"moderation_blocked", "content_policy_violation"})
REFUSAL_TYPES = frozenset({"image_generation_user_error"})
_MESSAGE_LIMIT = 300


class Transient(Exception):
    """A failure worth another attempt; carries the error to raise once attempts run out."""

    def __init__(self, error: RouterError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


@dataclass(frozen=True)
class _ErrorInfo:
    """What an error body says, from either documented shape."""

    message: str | None = None
    code: str | None = None
    type: str | None = None
    categories: tuple[str, ...] = ()
    flagged: bool = False  # OpenRouter's 403 "input flagged" (metadata.reasons)


def status_error(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    model: str | None,
    api_key: str,
    path: str | None = None,
) -> RouterError | Transient:
    """The error for a non-2xx answer; a ``Transient`` one when the status is worth a retry."""
    info = _error_info(_try_json(body), api_key)
    retry_after = parse_retry_after(headers)
    if status == 404 and path is not None and (model is None or not _about_model(info)):
        # Nothing about a model in the answer (or no model asked for): the path is wrong.
        log.info("Router answered HTTP 404 for %s", path)
        return RouterPathNotFound(detail=f"HTTP 404 for {path}", status=404)
    error = _error_for(status, info, retry_after=retry_after, model=model)
    log.info("Router answered HTTP %d (%s): %s", status, info.code, info.message)
    return Transient(error, retry_after) if status in RETRY_STATUSES else error


def raise_embedded_error(data: dict[str, Any], api_key: str) -> None:
    """Some routers answer 200 with an error object instead of a result."""
    if "error" not in data or "choices" in data or "data" in data:
        return
    info = _error_info(data, api_key)
    code = data["error"].get("code") if isinstance(data["error"], dict) else None
    status = code if isinstance(code, int) and 400 <= code <= 599 else 502
    raise _error_for(status, info, retry_after=None, model=None)


def _error_for(
    status: int, info: _ErrorInfo, *, retry_after: float | None, model: str | None
) -> RouterError:
    code = info.code or info.type
    detail = f"HTTP {status}: {info.message}" if info.message else f"HTTP {status} from the router"
    if (status == 400 and _is_refusal(info)) or (status == 403 and info.flagged):
        return Refused(
            model_text=info.message,
            categories=info.categories,
            detail=detail,
            status=status,
            router_code=code,
        )
    if status == 429:
        return RateLimited(retry_after=retry_after, detail=detail, status=status, router_code=code)
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


def _error_info(parsed: Any, api_key: str) -> _ErrorInfo:
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, str):
        return _ErrorInfo(message=clean(error, api_key))
    if not isinstance(error, dict):
        message = parsed.get("message") if isinstance(parsed, dict) else None
        return _ErrorInfo(message=clean(message, api_key) if isinstance(message, str) else None)
    message = error.get("message")
    code = error.get("code")
    etype = error.get("type")
    moderation = error.get("moderation_details")
    metadata = error.get("metadata")
    categories = moderation.get("categories") if isinstance(moderation, dict) else None
    reasons = metadata.get("reasons") if isinstance(metadata, dict) else None
    return _ErrorInfo(
        message=clean(message, api_key) if isinstance(message, str) else None,
        code=clean(str(code), api_key)
        if isinstance(code, str | int) and not isinstance(code, bool)
        else None,
        type=clean(etype, api_key) if isinstance(etype, str) else None,
        categories=tuple(clean(c, api_key) for c in _strings(categories) or _strings(reasons)),
        flagged=isinstance(metadata, dict)
        and ("reasons" in metadata or "flagged_input" in metadata),
    )


def _about_model(info: _ErrorInfo) -> bool:
    """Whether a 404 speaks of a model ("model_not_found", "Model x is not supported")."""
    return any("model" in (text or "").lower() for text in (info.message, info.code, info.type))


def _is_refusal(info: _ErrorInfo) -> bool:
    # Requesty's {"origin", "message"} shape may carry the provider's code only inside the text.
    message = info.message or ""
    return (
        info.code in REFUSAL_CODES
        or info.type in REFUSAL_TYPES
        or any(code in message for code in REFUSAL_CODES)
    )


def _try_json(body: bytes) -> Any:
    if len(body) > 1024 * 1024:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    millis = finite_float(headers.get("retry-after-ms"))
    if millis is not None:
        return max(0.0, millis / 1000)
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = finite_float(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def scrub(text: str, api_key: str) -> str:
    return text.replace(api_key, "[redacted]") if api_key else text


def clean(text: str, api_key: str) -> str:
    """A router message made safe to show: no key, one line, short."""
    text = " ".join(scrub(text, api_key).split())
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def from_httpx(exc: httpx.HTTPError, what: str, api_key: str) -> Exception:
    """What an httpx failure of ``what`` means: a timeout or a transport error is retried
    (``Transient``), anything else is an unreadable answer."""
    if isinstance(exc, httpx.TimeoutException):
        error = RouterUnavailable(
            "The image service timed out. Try again in a minute.",
            detail=f"{what}: {type(exc).__name__}",
        )
        return Transient(error)
    if isinstance(exc, httpx.TransportError):
        error = RouterUnavailable(
            "Couldn't reach the image service. Try again in a minute.",
            detail=f"{what}: {type(exc).__name__}: {clean(str(exc), api_key)}",
        )
        return Transient(error)
    return BadResponse(decoding.UNREADABLE, detail=f"{what}: {type(exc).__name__}")
