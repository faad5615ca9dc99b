"""Request validation, field by field, as the router and its providers do it.

Every function here is synchronous (images get decoded) and raises ``HttpError``; the
server runs them in a worker thread. Multipart values arrive as strings and are converted
the way the OpenAI API converts them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.catalog import (
    ASPECT_RATIOS,
    BACKGROUNDS,
    IMAGES_SIZES,
    OUTPUT_FORMATS,
    QUALITIES,
    RESOLUTIONS,
)

from . import imaging
from .imaging import BadImage, ImageInfo
from .protocol import (
    CHAT_MODELS,
    IMAGES_MODELS,
    MAX_CHAT_IMAGE_BYTES,
    MAX_CHAT_IMAGES,
    MAX_EDIT_IMAGE_BYTES,
    MAX_EDIT_IMAGES,
    MAX_IMAGE_URL_CHARS,
    MAX_PROMPT_CHARS,
    invalid,
    model_not_supported,
)

COMMON_IMAGES_FIELDS = {
    "model", "prompt", "n", "size", "quality", "response_format", "background",
    "output_format", "output_compression", "user", "stream",
}  # fmt: skip
GENERATION_FIELDS = COMMON_IMAGES_FIELDS | {"moderation"}
EDIT_JSON_FIELDS = COMMON_IMAGES_FIELDS | {"images", "mask", "input_fidelity"}
EDIT_FORM_FIELDS = COMMON_IMAGES_FIELDS | {"image", "image[]", "mask", "input_fidelity"}
CHAT_FIELDS = {
    "model", "messages", "image_config", "temperature", "top_p", "top_k", "max_tokens",
    "max_completion_tokens", "n", "stop", "seed", "user", "modalities", "stream",
    "presence_penalty", "frequency_penalty", "reasoning", "reasoning_effort",
}  # fmt: skip
REQUESTY = frozenset({"requesty"})
DATA_URL = re.compile(r"data:(?P<mime>[^;,]*)(?:;[^;,]*)*?;base64,(?P<data>.*)", re.S)
FILE_URL = re.compile(r"https?://[^/]+(?:/v1)?/files/(?P<id>[A-Za-z0-9_-]+)$")

FileResolver = Callable[[str], bytes | None]


@dataclass
class Upload:
    """One file part of a multipart body (``data`` stops just past the size limit)."""

    filename: str | None
    content_type: str | None
    data: bytes
    size: int


@dataclass
class ImagesJob:
    """A validated /images request."""

    model: str
    prompt: str
    n: int = 1
    size: str = "auto"
    quality: str = "auto"
    response_format: str = "url"
    background: str = "auto"
    output_format: str = "png"
    output_compression: int | None = None
    inputs: list[bytes] = field(default_factory=list)
    infos: list[ImageInfo] = field(default_factory=list)
    mask: bytes | None = None

    @property
    def output_size(self) -> str:
        """size=auto means the first input's shape for edits, a square otherwise."""
        if self.size != "auto":
            return self.size
        if self.infos:
            return imaging.snap_size(self.infos[0].width, self.infos[0].height)
        return "1024x1024"


@dataclass
class ChatJob:
    """A validated /chat/completions request."""

    model: str
    prompt: str
    aspect_ratio: str | None = None
    image_size: str = "1K"
    base: bytes | None = None  # the image to "edit": last one in the last user turn with images
    base_info: ImageInfo | None = None
    image_count: int = 0
    modalities: Any = None  # as sent; a mode that needs them answers text only without "image"
    text_only: bool = False  # modalities ["text"]: the answer is words, no image


# ----- shared field checks -------------------------------------------------------------------


def _check_model(body: dict[str, Any], family: frozenset[str]) -> str:
    model = body.get("model")
    if model is None:
        raise invalid("model", "Missing required parameter: 'model'.", "missing_required_parameter")
    if not isinstance(model, str):
        raise invalid("model", "Invalid type for 'model': expected a string.", "invalid_type")
    if model not in family:
        raise model_not_supported(model)
    return model


def _check_unknown(names: Any, allowed: set[str], prefix: str = "") -> None:
    for name in names:
        if name not in allowed:
            raise invalid(
                f"{prefix}{name}", f"Unknown parameter: '{prefix}{name}'.", "unknown_parameter"
            )


def _check_prompt(value: Any) -> str:
    if value is None:
        raise invalid(
            "prompt", "Missing required parameter: 'prompt'.", "missing_required_parameter"
        )
    if not isinstance(value, str):
        raise invalid("prompt", "Invalid type for 'prompt': expected a string.", "invalid_type")
    if not value.strip():
        raise invalid("prompt", "Invalid 'prompt': empty string.", "empty_string")
    if len(value) > MAX_PROMPT_CHARS:
        raise invalid(
            "prompt",
            f"Invalid 'prompt': string too long. Expected a string with maximum length "
            f"{MAX_PROMPT_CHARS}, but got a string with length {len(value)} instead.",
            "string_above_max_length",
        )
    return value


def _check_int(value: Any, name: str, low: int, high: int, *, form: bool) -> int:
    if form and isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(name, f"Invalid type for '{name}': expected an integer.", "invalid_type")
    if value < low:
        raise invalid(
            name, f"Invalid '{name}': must be >= {low}, got {value}.", "integer_below_min_value"
        )
    if value > high:
        raise invalid(
            name, f"Invalid '{name}': must be <= {high}, got {value}.", "integer_above_max_value"
        )
    return value


def _check_choice(value: Any, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise invalid(
            name,
            f"Invalid value: {value!r}. Supported values are: {', '.join(map(repr, allowed))}.",
        )
    return str(value)


def _check_stream(value: Any, *, form: bool) -> None:
    if form and isinstance(value, str):
        value = {"true": True, "false": False}.get(value.lower(), value)
    if not isinstance(value, bool):
        raise invalid("stream", "Invalid type for 'stream': expected a boolean.", "invalid_type")
    if value:
        raise invalid(
            "stream", "The fake router does not stream; send stream=false.", "unsupported_value"
        )


def _check_objects(body: Any, names: tuple[str, ...]) -> None:
    """Router-specific fields (Requesty's ``requesty``, LiteLLM's ``metadata``) are objects."""
    for name in names:
        if body.get(name) is not None and not isinstance(body.get(name), dict):
            raise invalid(name, f"Invalid type for '{name}': expected an object.", "invalid_type")


def _images_options(body: dict[str, Any], job: ImagesJob, *, form: bool, edit: bool) -> None:
    """The option fields shared by generations and edits; ``None`` means "not sent"."""
    get = body.get
    if get("n") is not None:
        job.n = _check_int(get("n"), "n", 1, 10, form=form)
    for name, allowed in (
        ("size", IMAGES_SIZES),
        ("quality", QUALITIES),
        ("response_format", ("url", "b64_json")),
        ("background", BACKGROUNDS),
        ("output_format", OUTPUT_FORMATS),
    ):
        if get(name) is not None:
            setattr(job, name, _check_choice(get(name), name, allowed))
    if get("output_compression") is not None:
        job.output_compression = _check_int(
            get("output_compression"), "output_compression", 0, 100, form=form
        )
    if get("moderation") is not None:
        _check_choice(get("moderation"), "moderation", ("auto", "low"))
    if edit and get("input_fidelity") is not None:
        _check_choice(get("input_fidelity"), "input_fidelity", ("high", "low"))
    if get("user") is not None and not isinstance(get("user"), str):
        raise invalid("user", "Invalid type for 'user': expected a string.", "invalid_type")
    if get("stream") is not None:
        _check_stream(get("stream"), form=form)
    _check_objects(body, ("requesty", "metadata"))
    if job.background == "transparent" and job.output_format == "jpeg":
        raise invalid(
            "background",
            "Transparent background is not supported for the jpeg output format; use png or webp.",
        )


# ----- images --------------------------------------------------------------------------------


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid(None, "The request body must be a JSON object.", "invalid_type")
    return body


def parse_generation(
    body: Any, models: frozenset[str] = IMAGES_MODELS, extra: frozenset[str] = REQUESTY
) -> ImagesJob:
    body = _require_object(body)
    job = ImagesJob(model=_check_model(body, models), prompt="")
    _check_unknown(body, GENERATION_FIELDS | extra)
    job.prompt = _check_prompt(body.get("prompt"))
    _images_options(body, job, form=False, edit=False)
    return job


def _edit_image(data: bytes, param: str, size: int) -> ImageInfo:
    """``size`` is the uploaded size: ``data`` itself stops just past the limit."""
    if size > MAX_EDIT_IMAGE_BYTES:
        raise invalid(
            param, f"Invalid '{param}': image files must be under 50 MB.", "image_too_large"
        )
    try:
        return imaging.inspect(data)
    except BadImage as exc:
        raise invalid(
            param,
            f"Invalid '{param}': unsupported or corrupt image. Supported formats are png, jpeg "
            f"and webp. ({exc})",
            "invalid_image_format",
        ) from exc


def _check_count(count: int, param: str) -> None:
    """1 to 16 inputs; checked before any decoding so a flood of images fails fast."""
    if count == 0:
        raise invalid(
            param, f"Missing required parameter: '{param}'.", "missing_required_parameter"
        )
    if count > MAX_EDIT_IMAGES:
        raise invalid(
            param,
            f"Invalid '{param}': too many images. Expected at most {MAX_EDIT_IMAGES}, got {count}.",
            "array_above_max_length",
        )


Source = tuple[str, bytes, int]  # (param name, bytes, size as uploaded)


def _check_inputs_and_mask(job: ImagesJob, sources: list[Source], mask: Source | None) -> None:
    """Decode and size-check the edit inputs; the mask must fit the first image."""
    for param, data, size in sources:
        job.infos.append(_edit_image(data, param, size))
        job.inputs.append(data)
    if mask is None:
        return
    param, data, size = mask
    info = _edit_image(data, param, size)
    first = job.infos[0]
    if (info.width, info.height) != (first.width, first.height):
        raise invalid(
            "mask",
            f"Invalid 'mask': the mask ({info.width}x{info.height}) must have the same "
            f"dimensions as the first image ({first.width}x{first.height}).",
            "invalid_mask",
        )
    if not info.has_alpha:
        raise invalid(
            "mask", "Invalid 'mask': the mask must have an alpha channel.", "invalid_mask"
        )
    job.mask = data


def _reference(ref: Any, param: str, resolve: FileResolver) -> bytes:
    """The bytes behind a JSON ImageReference: ``{"image_url": "data:..."}`` or ``{"file_id"}``."""
    if not isinstance(ref, dict) or len(ref) != 1 or not ({"image_url", "file_id"} & set(ref)):
        raise invalid(
            param,
            f"Invalid '{param}': expected an object with image_url or file_id.",
            "invalid_type",
        )
    if "file_id" in ref:
        data = resolve(ref["file_id"]) if isinstance(ref["file_id"], str) else None
        if data is None:
            raise invalid(f"{param}.file_id", f"No file found with id {ref['file_id']!r}.")
        return data
    return _url_bytes(ref["image_url"], f"{param}.image_url", resolve, MAX_IMAGE_URL_CHARS)


def _url_bytes(url: Any, param: str, resolve: FileResolver, max_chars: int) -> bytes:
    if not isinstance(url, str):
        raise invalid(param, f"Invalid type for '{param}': expected a string.", "invalid_type")
    if len(url) > max_chars:
        raise invalid(param, f"Invalid '{param}': string too long.", "string_above_max_length")
    own = FILE_URL.match(url)
    if own and (data := resolve(own["id"])) is not None:
        return data
    match = DATA_URL.fullmatch(url)
    if match is None:
        raise invalid(
            param,
            f"Invalid '{param}': expected a base64 data URL (the fake router cannot fetch URLs).",
        )
    try:
        return base64.b64decode(match["data"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise invalid(
            param, f"Invalid '{param}': the base64 data is not valid.", "invalid_image_format"
        ) from exc


def parse_edit_json(
    body: Any,
    resolve: FileResolver,
    models: frozenset[str] = IMAGES_MODELS,
    extra: frozenset[str] = REQUESTY,
) -> ImagesJob:
    body = _require_object(body)
    job = ImagesJob(model=_check_model(body, models), prompt="")
    _check_unknown(body, EDIT_JSON_FIELDS | extra)
    job.prompt = _check_prompt(body.get("prompt"))
    _images_options(body, job, form=False, edit=True)
    refs = body.get("images")
    if refs is not None and not isinstance(refs, list):
        raise invalid("images", "Invalid type for 'images': expected an array.", "invalid_type")
    _check_count(len(refs or []), "images")
    sources = []
    for i, ref in enumerate(refs or []):
        data = _reference(ref, f"images[{i}]", resolve)
        sources.append((f"images[{i}]", data, len(data)))
    mask = None
    if body.get("mask") is not None:
        data = _reference(body["mask"], "mask", resolve)
        mask = ("mask", data, len(data))
    _check_inputs_and_mask(job, sources, mask)
    return job


def parse_edit_form(
    form: dict[str, list[str | Upload]], models: frozenset[str] = IMAGES_MODELS
) -> ImagesJob:
    """A multipart edit; ``form`` maps each field name to every value sent under it."""
    files = {name for name, values in form.items() if any(isinstance(v, Upload) for v in values)}
    fields = {name: values[-1] for name, values in form.items() if name not in files}
    job = ImagesJob(model=_check_model(fields, models), prompt="")
    _check_unknown(form, EDIT_FORM_FIELDS)
    stray = sorted(files - {"image", "image[]", "mask"})
    if stray:
        raise invalid(
            stray[0], f"Invalid '{stray[0]}': expected a text field, got a file.", "invalid_type"
        )
    for name in ("image", "image[]", "mask"):
        if name in fields:
            raise invalid(name, f"Invalid type for '{name}': expected a file.", "invalid_type")
    job.prompt = _check_prompt(fields.get("prompt"))
    _images_options(fields, job, form=True, edit=True)
    uploads = [
        v for name in ("image[]", "image") for v in form.get(name, []) if isinstance(v, Upload)
    ]
    _check_count(len(uploads), "image")
    sources = [("image", u.data, u.size) for u in uploads]
    masks = [v for v in form.get("mask", []) if isinstance(v, Upload)]
    mask = ("mask", masks[-1].data, masks[-1].size) if masks else None
    _check_inputs_and_mask(job, sources, mask)
    return job


# ----- chat ----------------------------------------------------------------------------------


def _number(body: dict[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise invalid(name, f"Invalid type for '{name}': expected a number.", "invalid_type")
    if not low <= value <= high:
        raise invalid(name, f"Invalid '{name}': must be between {low} and {high}.")


def _chat_options(body: dict[str, Any]) -> None:
    _number(body, "temperature", 0, 2)
    _number(body, "top_p", 0, 1)
    _number(body, "presence_penalty", -2, 2)
    _number(body, "frequency_penalty", -2, 2)
    for name in ("max_tokens", "max_completion_tokens", "top_k"):
        if body.get(name) is not None:
            _check_int(body[name], name, 1, 1_000_000, form=False)
    if body.get("seed") is not None:
        _check_int(body["seed"], "seed", -(2**63), 2**63 - 1, form=False)
    if body.get("n") is not None:
        _check_int(body["n"], "n", 1, 1, form=False)
    if body.get("user") is not None and not isinstance(body["user"], str):
        raise invalid("user", "Invalid type for 'user': expected a string.", "invalid_type")
    stop = body.get("stop")
    if stop is not None and not (
        isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
    ):
        raise invalid(
            "stop",
            "Invalid type for 'stop': expected a string or an array of strings.",
            "invalid_type",
        )
    modalities = body.get("modalities")
    if modalities is not None and (
        not isinstance(modalities, list) or not set(modalities) <= {"text", "image"}
    ):
        raise invalid(
            "modalities", "Invalid 'modalities': expected an array of 'text' and 'image'."
        )
    if body.get("stream") is not None:
        _check_stream(body["stream"], form=False)
    _check_objects(body, ("reasoning", "requesty", "metadata", "provider", "usage"))
    if body.get("reasoning_effort") is not None and not isinstance(body["reasoning_effort"], str):
        raise invalid(
            "reasoning_effort",
            "Invalid type for 'reasoning_effort': expected a string.",
            "invalid_type",
        )


def _image_config(config: Any) -> tuple[str | None, str]:
    if config is None:
        return None, "1K"
    if not isinstance(config, dict):
        raise invalid(
            "image_config", "Invalid type for 'image_config': expected an object.", "invalid_type"
        )
    _check_unknown(config, {"aspect_ratio", "image_size"}, "image_config.")
    ratio = config.get("aspect_ratio")
    if ratio is not None:
        _check_choice(ratio, "image_config.aspect_ratio", ASPECT_RATIOS)
    size = config.get("image_size")
    size = "1K" if size is None else _check_choice(size, "image_config.image_size", RESOLUTIONS)
    return ratio, size


def _chat_image(url_holder: Any, param: str) -> tuple[bytes, ImageInfo]:
    """Decode one ``image_url`` object: a data URL holding a real picture of at most 7 MB."""
    if not isinstance(url_holder, dict) or not set(url_holder) <= {"url", "detail", "mime_type"}:
        raise invalid(param, f"Invalid '{param}': expected an object with 'url'.", "invalid_type")
    url = url_holder.get("url")
    if isinstance(url, str) and url.startswith("data:") and not url.startswith("data:image/"):
        # Gemini reads the declared MIME type, so a picture labelled otherwise is refused.
        raise invalid(
            f"{param}.url",
            f"Invalid '{param}.url': not an image MIME type.",
            "invalid_image_format",
        )
    data = _url_bytes(url, f"{param}.url", lambda _id: None, MAX_IMAGE_URL_CHARS)
    if len(data) > MAX_CHAT_IMAGE_BYTES:
        raise invalid(
            f"{param}.url",
            f"Invalid '{param}.url': inline images must be at most 7 MB.",
            "image_too_large",
        )
    try:
        return data, imaging.inspect(data)
    except BadImage as exc:
        raise invalid(
            f"{param}.url",
            f"Invalid '{param}.url': not a valid png, jpeg or webp image.",
            "invalid_image_format",
        ) from exc


def _parts(
    content: Any, param: str, *, images_ok: bool
) -> tuple[str, list[tuple[bytes, ImageInfo]]]:
    """The text and the images of one message's content."""
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list) or not content:
        raise invalid(
            param,
            f"Invalid '{param}': expected a string or a non-empty array of parts.",
            "invalid_type",
        )
    texts, images = [], []
    for j, part in enumerate(content):
        where = f"{param}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str) and set(part) <= {"type", "text"}:
            texts.append(part["text"])
        elif kind == "image_url" and images_ok and set(part) <= {"type", "image_url"}:
            images.append(_chat_image(part.get("image_url"), f"{where}.image_url"))
        else:
            raise invalid(f"{where}.type", f"Invalid '{where}': unsupported content part.")
    return "\n".join(texts), images


def _assistant_extras(message: dict[str, Any], param: str) -> list[tuple[bytes, ImageInfo]]:
    """An earlier assistant turn may be replayed with its images and reasoning_details."""
    details = message.get("reasoning_details")
    if details is not None and not isinstance(details, list):
        raise invalid(
            f"{param}.reasoning_details", "Invalid type: expected an array.", "invalid_type"
        )
    images = message.get("images")
    if images is None:
        return []
    if not isinstance(images, list):
        raise invalid(f"{param}.images", "Invalid type: expected an array.", "invalid_type")
    out = []
    for k, image in enumerate(images):
        where = f"{param}.images[{k}]"
        if not isinstance(image, dict) or image.get("type") != "image_url":
            raise invalid(
                where, f"Invalid '{where}': expected {{type: 'image_url', image_url: {{url}}}}."
            )
        out.append(_chat_image(image.get("image_url"), f"{where}.image_url"))
    return out


MESSAGE_KEYS = {
    "system": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    "assistant": {"role", "content", "name", "images", "reasoning_details", "reasoning", "refusal"},
}


def _message(message: Any, param: str) -> tuple[str, str, list[tuple[bytes, ImageInfo]]]:
    if not isinstance(message, dict):
        raise invalid(param, f"Invalid type for '{param}': expected an object.", "invalid_type")
    role = message.get("role")
    if role not in MESSAGE_KEYS:
        raise invalid(
            f"{param}.role",
            f"Invalid value: {role!r}. Supported values are: 'system', 'user' and 'assistant'.",
        )
    _check_unknown(message, MESSAGE_KEYS[role], f"{param}.")
    content = message.get("content")
    if role == "assistant":
        text, images = (
            ("", []) if content is None else _parts(content, f"{param}.content", images_ok=False)
        )
        return role, text, images + _assistant_extras(message, param)
    if content is None:
        raise invalid(
            f"{param}.content",
            f"Missing required parameter: '{param}.content'.",
            "missing_required_parameter",
        )
    text, images = _parts(content, f"{param}.content", images_ok=role == "user")
    return role, text, images


def parse_chat(
    body: Any, models: frozenset[str] = CHAT_MODELS, extra: frozenset[str] = REQUESTY
) -> ChatJob:
    body = _require_object(body)
    job = ChatJob(model=_check_model(body, models), prompt="")
    _check_unknown(body, CHAT_FIELDS | extra)
    job.modalities = body.get("modalities")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid(
            "messages",
            "Invalid 'messages': expected a non-empty array of messages.",
            "invalid_type" if messages is not None else "missing_required_parameter",
        )
    _chat_options(body)
    job.aspect_ratio, job.image_size = _image_config(body.get("image_config"))
    job.text_only = body.get("modalities") == ["text"]
    for i, message in enumerate(messages):
        role, text, images = _message(message, f"messages[{i}]")
        job.image_count += len(images)
        if job.image_count > MAX_CHAT_IMAGES:
            raise invalid(
                "messages",
                f"Too many images: at most {MAX_CHAT_IMAGES} per request.",
                "too_many_images",
            )
        if role == "user":
            job.prompt = text or job.prompt
            if images:
                job.base, job.base_info = images[-1]
    return job
