"""Every error Easel raises on purpose, each with a friendly ``user_message`` and ``retryable``.

The tree::

    EaselError
    ├── ConfigError                  bad or missing setting; start-up stops (exit 2)
    ├── InputError                   the user's input cannot be used as it is
    │   ├── UnsupportedImageType     not PNG, JPEG, WebP or GIF (sniffed from the bytes)
    │   ├── CorruptImage             the bytes do not decode
    │   ├── ImageTooLarge            too many bytes or pixels (decompression-bomb guard)
    │   ├── MaskMismatch             mask size or shape does not fit the first image
    │   ├── TooManyImages            more inputs than the model takes
    │   ├── DownloadFailed           an input could not be fetched from Discord's CDN
    │   │   └── LinkExpired          the CDN link's signature ran out (re-fetch the message)
    │   └── InvalidOption            a size, ratio or tier the model does not offer
    ├── RouterError                  anything the router said or failed to say
    │   ├── RouterUnavailable        connection failure, timeout, 5xx/529   (retryable)
    │   ├── RateLimited              429; carries retry_after seconds      (retryable)
    │   ├── AuthFailed               401/403: key missing, wrong or model blocked
    │   ├── OutOfCredit              402 balance, 412 spend limit
    │   ├── ModelNotFound            404
    │   ├── BadRequest               400 other than a refusal
    │   ├── Refused                  moderation/content filter; carries the model's own text
    │   ├── NoImage                  a 200 answer without an image          (retryable)
    │   └── BadResponse              malformed JSON, truncated or undecodable image data (retryable)
    ├── StorageError                 the database or image files failed      (retryable)
    │   ├── NotFound                 no such job or session
    │   └── ImageMissing             a stored image file is gone or damaged
    ├── DeliveryError                Discord would not take the result (too large, no permission)
    ├── NotAllowed                   the user may not do that (not theirs, a permission missing)
    │   ├── QueueFull                too many of the user's jobs waiting already (retryable)
    │   ├── AccessDenied             the server's rules close this channel or way in to the user
    │   ├── OverLimit                a model, count or resolution the server's rules don't allow
    │   ├── OverBudget               a budget, quota or cooldown refuses the job (retryable)
    │   └── NeedsConfirmation        the job costs more than CONFIRM_ABOVE_USD: ask first
    ├── JobTaken                     another worker already claimed the job (never shown)
    └── JobCancelled                 the user cancelled the job

Foreign exceptions (httpx, Pillow, SQLAlchemy) are mapped to this tree in the one module that
imports the library (``raise Mapped(...) from exc``). Messages never contain secrets.
"""

from __future__ import annotations


class EaselError(Exception):
    """Base of every error Easel raises on purpose."""

    code = "error"
    retryable = False
    default_message = "Something went wrong."

    def __init__(self, user_message: str | None = None, *, detail: str | None = None) -> None:
        self.user_message = user_message or self.default_message
        self.detail = detail
        self.job_id: int | None = None  # set when the failure was recorded on a stored job
        super().__init__(self.user_message if detail is None else f"{self.user_message} ({detail})")


class ConfigError(EaselError):
    code = "config"
    default_message = "The configuration is invalid."


class InputError(EaselError):
    code = "input"
    default_message = "That input can't be used."


class UnsupportedImageType(InputError):
    code = "unsupported_type"
    default_message = "That file isn't an image I can read. Use PNG, JPEG, WebP or GIF."


class CorruptImage(InputError):
    code = "corrupt_image"
    default_message = "That image looks damaged and can't be opened."


class ImageTooLarge(InputError):
    code = "image_too_large"
    default_message = "That image is too large."


class MaskMismatch(InputError):
    code = "mask_mismatch"
    default_message = "The mask must have the same size as the first image."


class TooManyImages(InputError):
    code = "too_many_images"
    default_message = "Too many input images for this model."


class DownloadFailed(InputError):
    code = "download_failed"
    default_message = "I couldn't download that image from Discord. Try again in a moment."


class LinkExpired(DownloadFailed):
    code = "link_expired"
    default_message = "The link to that image has expired. Post the image again."


class InvalidOption(InputError):
    code = "invalid_option"
    default_message = "That option isn't available for this model."


class RouterError(EaselError):
    code = "router"
    default_message = "The image service returned an error."

    def __init__(
        self,
        user_message: str | None = None,
        *,
        detail: str | None = None,
        status: int | None = None,
        router_code: str | None = None,
    ) -> None:
        super().__init__(user_message, detail=detail)
        self.status = status
        self.router_code = router_code


class RouterUnavailable(RouterError):
    code = "router_unavailable"
    retryable = True
    default_message = "The image service is unavailable right now. Try again in a minute."


class RateLimited(RouterError):
    code = "rate_limited"
    retryable = True
    default_message = "The image service is busy (rate limited)."

    def __init__(
        self, user_message: str | None = None, *, retry_after: float | None = None, **kwargs: object
    ) -> None:
        self.retry_after = retry_after
        if user_message is None:
            when = f" Try again in about {max(1, round(retry_after))} s." if retry_after else ""
            user_message = self.default_message + (when or " Try again shortly.")
        super().__init__(user_message, **kwargs)  # type: ignore[arg-type]


class AuthFailed(RouterError):
    code = "auth_failed"
    default_message = (
        "The image service did not accept the bot's API key or blocked this model. "
        "Ask the bot's owner to check the key."
    )


class OutOfCredit(RouterError):
    code = "out_of_credit"
    default_message = (
        "The bot's account with the image service is out of credit or over its spend limit. "
        "Ask the bot's owner to top it up."
    )


class ModelNotFound(RouterError):
    code = "model_not_found"
    default_message = "The image service doesn't know that model."


class RouterPathNotFound(RouterError):
    """A 404 that isn't about a model: ROUTER_BASE_URL points at the wrong path (no ``/v1``)."""

    code = "router_path"
    default_message = (
        "The image service isn't at that address (HTTP 404); the bot's owner should check "
        "ROUTER_BASE_URL, which usually ends in /v1."
    )


class BadRequest(RouterError):
    code = "bad_request"
    default_message = "The image service rejected the request."


class Refused(RouterError):
    code = "refused"
    default_message = "The model refused this request."

    def __init__(
        self,
        user_message: str | None = None,
        *,
        model_text: str | None = None,
        categories: tuple[str, ...] = (),
        **kwargs: object,
    ) -> None:
        self.model_text = model_text
        self.categories = categories
        if user_message is None:
            user_message = self.default_message
            if categories:
                user_message += f" (flagged: {', '.join(categories)})"
            if model_text:
                user_message += f"\nThe model said: “{model_text.strip()[:500]}”"
        super().__init__(user_message, **kwargs)  # type: ignore[arg-type]


class NoImage(RouterError):
    code = "no_image"
    retryable = True
    default_message = "The model answered without an image."

    def __init__(
        self, user_message: str | None = None, *, model_text: str | None = None, **kwargs: object
    ) -> None:
        self.model_text = model_text
        if user_message is None:
            user_message = self.default_message
            if model_text:
                user_message += f"\nThe model said: “{model_text.strip()[:500]}”"
        super().__init__(user_message, **kwargs)  # type: ignore[arg-type]


class BadResponse(RouterError):
    code = "bad_response"
    retryable = True
    default_message = "The image service sent back something unreadable."


class DeliveryError(EaselError):
    code = "delivery"
    default_message = "Discord would not accept the result."


class NotAllowed(EaselError):
    code = "not_allowed"
    default_message = "You can't do that here."


class QueueFull(NotAllowed):
    code = "queue_full"
    retryable = True
    default_message = "You have too many images waiting. Wait for one to finish, then Retry."


class AccessDenied(NotAllowed):
    code = "access_denied"
    default_message = "The server's rules don't let you use Easel here."


class OverLimit(NotAllowed):
    code = "over_limit"
    default_message = "The server's rules don't allow that request. Change it with Remix."


class OverBudget(NotAllowed):
    """Refused before any router call; ``refusal`` (a ``bot.budgets.Refusal``) has the figures."""

    code = "over_budget"
    retryable = True
    default_message = "This job would go over a budget. Press Retry when it resets."

    def __init__(self, user_message: str | None = None, *, refusal: object = None) -> None:
        super().__init__(user_message)
        self.refusal = refusal


class NeedsConfirmation(NotAllowed):
    """The job's estimate is above ``CONFIRM_ABOVE_USD``; a Confirm button runs it."""

    code = "confirm"
    retryable = True
    default_message = "This job costs more than usual. Press Confirm to run it."

    def __init__(self, user_message: str | None = None, *, estimate: float = 0.0) -> None:
        super().__init__(user_message)
        self.estimate = estimate


class JobTaken(EaselError):
    code = "taken"
    default_message = "That job is already running or finished."


class JobCancelled(EaselError):
    code = "cancelled"
    default_message = "The job was cancelled."


class StorageError(EaselError):
    """The database or the image files could not be read or written."""

    code = "storage"
    default_message = "The bot's storage isn't working right now. Try again in a minute."


class NotFound(StorageError):
    code = "not_found"
    default_message = "That job or session no longer exists."


class ImageMissing(StorageError):
    code = "image_missing"
    default_message = "A stored image is missing, so this can't be redone. Start a new request."


def why_not_kept(exc: BaseException) -> str:
    """The end of "The image was made but I couldn't keep it: …"."""
    if isinstance(exc, EaselError):
        return exc.user_message + " Press Retry to make it again."
    return "something went wrong on our side. Press Retry to make it again."
