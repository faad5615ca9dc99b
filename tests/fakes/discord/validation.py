"""Discord's documented limits on what a bot sends; each breach is the error Discord returns.

Limits: resources/message.mdx, components/reference.mdx, interactions/*.mdx (see
``../shared/reference/api-facts.md`` §B.5 and §B.8).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from . import errors
from .model import COMPONENTS_V2

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_FILES = 10
MAX_ALT_TEXT = 1024
MAX_CUSTOM_ID = 100
MAX_ROWS = 5
MAX_ROW_BUTTONS = 5
MAX_V2_COMPONENTS = 40
MAX_MODAL_COMPONENTS = 5
MAX_MODAL_TITLE = 45
MAX_CHOICES = 25
MAX_TEXT_INPUT = 4000

_EMBED_TEXT_LIMITS = {"title": 256, "description": 4096}
_SELECT_TYPES = {3, 5, 6, 7, 8}
_COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")
_COMMAND_LIMITS = {1: 100, 2: 15, 3: 15}


def validate_message(payload: dict[str, Any], file_count: int, *, editing: bool = False) -> None:
    """Create/edit message body checks, in the order Discord reports them."""
    content = payload.get("content") or ""
    if len(content) > MAX_CONTENT:
        raise errors.too_long("content", MAX_CONTENT)
    embeds = payload.get("embeds") or []
    if len(embeds) > MAX_EMBEDS:
        raise errors.too_long("embeds", MAX_EMBEDS)
    for index, embed in enumerate(embeds):
        _validate_embed(index, embed)
    if sum(_embed_chars(e) for e in embeds) > MAX_EMBED_TOTAL:
        raise errors.form_error(
            "embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
        )
    if file_count > MAX_FILES or len(payload.get("attachments") or []) > MAX_FILES:
        raise errors.max_attachments()
    for index, attachment in enumerate(payload.get("attachments") or []):
        if len(attachment.get("description") or "") > MAX_ALT_TEXT:
            raise errors.too_long(f"attachments.{index}.description", MAX_ALT_TEXT)
    validate_components(payload.get("components") or [], flags=payload.get("flags") or 0)
    has_body = content or embeds or file_count or payload.get("components")
    has_body = has_body or payload.get("sticker_ids") or payload.get("poll")
    if not editing and not has_body:
        raise errors.empty_message()


def _validate_embed(index: int, embed: dict[str, Any]) -> None:
    for key, limit in _EMBED_TEXT_LIMITS.items():
        if len(embed.get(key) or "") > limit:
            raise errors.too_long(f"embeds.{index}.{key}", limit)
    fields = embed.get("fields") or []
    if len(fields) > 25:
        raise errors.too_long(f"embeds.{index}.fields", 25)
    for n, item in enumerate(fields):
        if len(item.get("name") or "") > 256:
            raise errors.too_long(f"embeds.{index}.fields.{n}.name", 256)
        if len(item.get("value") or "") > 1024:
            raise errors.too_long(f"embeds.{index}.fields.{n}.value", 1024)


def _embed_chars(embed: dict[str, Any]) -> int:
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    for item in embed.get("fields") or []:
        total += len(item.get("name") or "") + len(item.get("value") or "")
    return total


def validate_components(components: list[dict[str, Any]], *, flags: int = 0) -> None:
    """Action rows (≤5, ≤5 buttons or one select each) or a Components V2 tree (≤40)."""
    seen: set[str] = set()
    if flags & COMPONENTS_V2:
        if _count(components) > MAX_V2_COMPONENTS:
            raise errors.too_long("components", MAX_V2_COMPONENTS)
        for path, comp in _walk("components", components):
            _validate_interactive(path, comp, seen)
        return
    if len(components) > MAX_ROWS:
        raise errors.too_long("components", MAX_ROWS)
    for row_index, row in enumerate(components):
        path = f"components.{row_index}"
        if row.get("type") != 1:
            raise errors.form_error(
                f"{path}.type", "UNION_TYPE_CHOICES", 'Value of field "type" must be one of (1,).'
            )
        children = row.get("components") or []
        buttons = [c for c in children if c.get("type") == 2]
        if len(buttons) > MAX_ROW_BUTTONS:
            raise errors.too_long(f"{path}.components", MAX_ROW_BUTTONS)
        selects = [c for c in children if c.get("type") in _SELECT_TYPES]
        if selects and len(children) > 1:
            raise errors.form_error(
                f"{path}.components",
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for n, comp in enumerate(children):
            _validate_interactive(f"{path}.components.{n}", comp, seen)


def _validate_interactive(path: str, comp: dict[str, Any], seen: set[str]) -> None:
    custom_id = comp.get("custom_id")
    if comp.get("type") == 2 and comp.get("style") == 5:
        if not comp.get("url") or custom_id:
            raise errors.form_error(
                path, "BUTTON_COMPONENT_INVALID_URL", "Link buttons need a url and no custom_id."
            )
        return
    if comp.get("type") not in {2, *_SELECT_TYPES, 4, 19}:
        return
    if not custom_id:
        raise errors.form_error(f"{path}.custom_id", "BASE_TYPE_REQUIRED", "This field is required")
    if len(custom_id) > MAX_CUSTOM_ID:
        raise errors.too_long(f"{path}.custom_id", MAX_CUSTOM_ID)
    if custom_id in seen:
        raise errors.form_error(
            f"{path}.custom_id",
            "COMPONENT_CUSTOM_ID_DUPLICATED",
            "Component custom id cannot be duplicated",
        )
    seen.add(custom_id)
    if comp.get("type") == 2 and not (comp.get("label") or comp.get("emoji")):
        raise errors.form_error(
            path, "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED", "A button needs a label or an emoji."
        )


def _walk(path: str, components: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for index, comp in enumerate(components):
        here = f"{path}.{index}"
        yield here, comp
        yield from _walk(f"{here}.components", comp.get("components") or [])
        for key in ("accessory", "component"):
            if comp.get(key):
                yield from _walk(f"{here}.{key}", [comp[key]])


def _count(components: list[dict[str, Any]]) -> int:
    return sum(1 for _ in _walk("c", components))


def validate_modal(data: dict[str, Any]) -> None:
    """Modal: custom_id 1-100, title ≤45, 1-5 top-level components, File Upload only in a Label."""
    custom_id = data.get("custom_id") or ""
    if not 1 <= len(custom_id) <= MAX_CUSTOM_ID:
        raise errors.too_long("data.custom_id", MAX_CUSTOM_ID)
    if not 1 <= len(data.get("title") or "") <= MAX_MODAL_TITLE:
        raise errors.too_long("data.title", MAX_MODAL_TITLE)
    components = data.get("components") or []
    if not 1 <= len(components) <= MAX_MODAL_COMPONENTS:
        raise errors.form_error(
            "data.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
        )
    seen: set[str] = set()
    for index, comp in enumerate(components):
        path = f"data.components.{index}"
        if comp.get("type") == 19:
            raise errors.form_error(
                f"{path}.type", "COMPONENT_TYPE_INVALID", "File Upload must be inside a Label."
            )
        if comp.get("type") == 18 and len(comp.get("label") or "") > 45:
            raise errors.too_long(f"{path}.label", 45)
        for sub_path, sub in _walk(path, [comp]):
            _validate_modal_field(sub_path, sub)
            _validate_interactive(sub_path, sub, seen)


def _validate_modal_field(path: str, comp: dict[str, Any]) -> None:
    if comp.get("type") == 4:
        max_length = comp.get("max_length") or MAX_TEXT_INPUT
        if not 1 <= max_length <= MAX_TEXT_INPUT or len(comp.get("value") or "") > MAX_TEXT_INPUT:
            raise errors.too_long(f"{path}.max_length", MAX_TEXT_INPUT)
    if comp.get("type") == 19:
        max_values = comp.get("max_values")
        if max_values is not None and not 1 <= max_values <= 10:
            raise errors.form_error(
                f"{path}.max_values",
                "NUMBER_TYPE_MAX",
                "int value should be less than or equal to 10.",
            )


def validate_choices(choices: list[dict[str, Any]]) -> None:
    if len(choices) > MAX_CHOICES:
        raise errors.too_long("data.choices", MAX_CHOICES)
    for index, choice in enumerate(choices):
        if not 1 <= len(str(choice.get("name", ""))) <= 100:
            raise errors.too_long(f"data.choices.{index}.name", 100)


def validate_commands(commands: list[dict[str, Any]]) -> None:
    """What bulk overwrite rejects: bad names/descriptions, too many options or commands."""
    counts: dict[int, int] = {}
    for index, command in enumerate(commands):
        type_ = command.get("type", 1)
        counts[type_] = counts.get(type_, 0) + 1
        name = command.get("name") or ""
        if type_ == 1 and (not _COMMAND_NAME.match(name) or name != name.lower()):
            raise errors.form_error(
                f"{index}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
            )
        description = command.get("description") or ""
        if type_ == 1 and not 1 <= len(description) <= 100:
            raise errors.form_error(
                f"{index}.description",
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            )
        if type_ != 1 and (description or command.get("options")):
            raise errors.form_error(
                f"{index}.description",
                "APPLICATION_COMMAND_INVALID",
                "Context menu commands take no description or options.",
            )
        if len(command.get("options") or []) > 25:
            raise errors.too_long(f"{index}.options", 25)
    for type_, count in counts.items():
        if count > _COMMAND_LIMITS.get(type_, 100):
            raise errors.ApiError(400, 30032, "Maximum number of application commands reached")
