"""What the router says when it says no: error bodies, models and limits.

The router speaks two error dialects (api-facts A.3): its own ``{"error":{"origin","message"}}``
for auth, routing and upstream trouble, and the OpenAI one ``{"error":{"message","type",
"param","code"}}`` for request validation, which it passes through from the provider.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

IMAGES_MODELS = frozenset(
    {"azure/openai/gpt-image-1", "azure/openai/gpt-image-1.5", "gpt-image-1", "gpt-image-1.5"}
)
CHAT_MODELS = frozenset(
    {
        "vertex/google/gemini-2.5-flash-image-preview",
        "vertex/gemini-3.1-flash-image-preview",
        "vertex/google/gemini-3-pro-image-preview",
    }
)

MAX_PROMPT_CHARS = 32000
MAX_EDIT_IMAGES = 16
MAX_EDIT_IMAGE_BYTES = 50 * 1024 * 1024
MAX_IMAGE_URL_CHARS = 20971520
MAX_CHAT_IMAGES = 14
MAX_CHAT_IMAGE_BYTES = 7 * 1024 * 1024

MODERATION_MESSAGE = (
    "Your request was rejected by the safety system. If you believe this is an error, "
    "contact us at help.openai.com and include the request ID req_fake in your message."
)
REFUSAL_TEXT = "I can't create that image because it may violate the content policy."

_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class HttpError(Exception):
    """An answer other than success; raised anywhere, rendered by the server's middleware."""

    def __init__(
        self,
        status: int,
        body: dict[str, Any] | str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}

    def payload(self) -> tuple[bytes, str]:
        """The body bytes and their content type."""
        if isinstance(self.body, str):
            return self.body.encode(), "text/html"
        return json.dumps(self.body).encode(), "application/json"


def origin_body(message: str, origin: str = "router") -> dict[str, Any]:
    return {"error": {"origin": origin, "message": message}}


def openai_body(
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def invalid(param: str | None, message: str, code: str = "invalid_value") -> HttpError:
    """The 400 a provider gives for a bad field."""
    return HttpError(400, openai_body(message, param=param, code=code))


def unauthorized(message: str) -> HttpError:
    return HttpError(401, origin_body(message))


def model_not_supported(model: str) -> HttpError:
    return HttpError(404, origin_body(f"Model {model} is not supported"))


def moderation_blocked() -> HttpError:
    """The OpenAI safety-system refusal, exactly as the images endpoints return it."""
    body = {
        "error": {
            "type": "image_generation_user_error",
            "code": "moderation_blocked",
            "message": MODERATION_MESSAGE,
            "param": None,
            "moderation_details": {"moderation_stage": "input", "categories": ["violence"]},
        }
    }
    return HttpError(400, body)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return {529: "Site Overloaded"}.get(status, "Error")


def status_error(
    status: int, shape: str, message: str | None = None, retry_after: float | None = None
) -> HttpError:
    """An arbitrary failure in one of the three shapes a client can meet.

    ``origin`` 5xx blame the provider (an upstream failure relayed by the router), lower
    statuses the router itself; ``text`` is the HTML page a proxy in front would send.
    """
    message = message or f"{_phrase(status)} (fake router fault)"
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    if shape == "text":
        title = f"{status} {_phrase(status)}"
        page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{message}</p></body></html>"
        return HttpError(status, page, headers=headers)
    if shape == "openai":
        type_ = _OPENAI_TYPES.get(
            status, "server_error" if status >= 500 else "invalid_request_error"
        )
        code = "rate_limit_exceeded" if status == 429 else None
        return HttpError(status, openai_body(message, type_=type_, code=code), headers=headers)
    origin = "provider" if status >= 500 else "router"
    return HttpError(status, origin_body(message, origin), headers=headers)
