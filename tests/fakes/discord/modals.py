"""MODAL_SUBMIT data: the component echo Discord sends back, with uploads in ``resolved``.

Text inputs and selects echo ``value``/``values``; a File Upload (type 19, inside a Label)
echoes attachment ids in ``values`` and the attachments themselves in
``resolved.attachments``, which is what ``discord.ui.FileUpload.values`` reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .compose import make_attachment

if TYPE_CHECKING:
    from .model import Channel
    from .state import World

FileSpec = tuple[str, bytes]


def modal_submit_data(
    world: World,
    modal: dict[str, Any],
    values: dict[str, Any],
    files: dict[str, list[FileSpec]],
    channel: Channel,
) -> dict[str, Any]:
    known = _custom_ids(modal["components"])
    stray = (set(values) | set(files)) - known
    assert not stray, (
        f"modal {modal['custom_id']!r} has no field(s) {sorted(stray)}; it has {sorted(known)}"
    )
    resolved: dict[str, Any] = {}
    echo = _Echo(world, values, files, resolved, channel)
    data: dict[str, Any] = {
        "custom_id": modal["custom_id"],
        "components": [echo.top(c) for c in modal["components"]],
    }
    if resolved:
        data["resolved"] = resolved
    return data


def _custom_ids(components: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for comp in components:
        if comp.get("custom_id"):
            found.add(comp["custom_id"])
        found |= _custom_ids(comp.get("components") or [])
        if comp.get("component"):
            found |= _custom_ids([comp["component"]])
    return found


class _Echo:
    """Builds the submitted component tree for one modal."""

    def __init__(
        self,
        world: World,
        values: dict[str, Any],
        files: dict[str, list[FileSpec]],
        resolved: dict[str, Any],
        channel: Channel,
    ) -> None:
        self.world = world
        self.values = values
        self.files = files
        self.resolved = resolved
        self.channel = channel

    def top(self, comp: dict[str, Any]) -> dict[str, Any]:
        kind = comp["type"]
        if kind == 1:
            return {
                "type": 1,
                "id": comp.get("id"),
                "components": [self.field(c) for c in comp["components"]],
            }
        if kind == 18:
            return {"type": 18, "id": comp.get("id"), "component": self.field(comp["component"])}
        return {"type": kind, "id": comp.get("id")}

    def field(self, comp: dict[str, Any]) -> dict[str, Any]:
        kind, custom_id = comp["type"], comp.get("custom_id")
        echoed: dict[str, Any] = {"type": kind, "id": comp.get("id"), "custom_id": custom_id}
        if kind == 4:
            echoed["value"] = self._text(comp)
        elif kind == 19:
            echoed["values"] = self._uploads(comp)
        elif kind in (3, 5, 6, 7, 8):
            chosen = list(self.values.get(comp["custom_id"], []))
            self._check_count(comp, len(chosen), "value")
            echoed["values"] = [str(getattr(v, "id", v)) for v in chosen]
        return echoed

    def _text(self, comp: dict[str, Any]) -> str:
        custom_id = comp["custom_id"]
        value = self.values.get(custom_id, comp.get("value") or "")
        assert isinstance(value, str), f"text input {custom_id!r} takes a string"
        required = comp.get("required", True) is not False
        assert value or not required, f"text input {custom_id!r} is required"
        low = comp.get("min_length") or 0
        high = comp.get("max_length") or 4000
        assert not value or low <= len(value) <= high, (
            f"text input {custom_id!r} takes {low}..{high} characters"
        )
        return value

    def _uploads(self, comp: dict[str, Any]) -> list[str]:
        custom_id = comp["custom_id"]
        specs = self.files.get(custom_id, [])
        self._check_count(comp, len(specs), "file")
        limit = (
            self.world.guilds[self.channel.guild_id].upload_limit
            if self.channel.guild_id
            else 10 << 20
        )
        ids = []
        for filename, data in specs:
            assert len(data) <= limit, f"{filename} exceeds the {limit}-byte upload limit"
            attachment = make_attachment(
                self.world, self.channel.id, filename, data, ephemeral=True
            )
            self.resolved.setdefault("attachments", {})[str(attachment.id)] = (
                self.world.render.attachment(attachment)
            )
            ids.append(str(attachment.id))
        return ids

    def _check_count(self, comp: dict[str, Any], count: int, noun: str) -> None:
        required = comp.get("required", True) is not False
        low = comp.get("min_values")
        low = (1 if required else 0) if low is None else low
        high = comp.get("max_values") or 1
        if count == 0 and not required:
            return
        assert low <= count <= high, (
            f"{comp['custom_id']!r} takes {low}..{high} {noun}(s), got {count}"
        )
