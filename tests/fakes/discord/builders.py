"""INTERACTION_CREATE payloads built the way the Discord client would build them.

The Discord client only lets users pick registered commands, valid choices and existing
buttons, so anything a real user could not send is an ``AssertionError`` naming the mistake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .compose import make_attachment
from .model import Channel, Command, Message, Role, User
from .payloads import role_payload, user_payload
from .permissions import channel_permissions

if TYPE_CHECKING:
    from .state import World

STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)
_SUBCOMMANDS = (1, 2)
_SELECTS = {3, 5, 6, 7, 8}


def base_payload(
    world: World, id_: int, token: str, type_: int, user: User, channel: Channel
) -> dict[str, Any]:
    """Fields every interaction carries (member or user, permissions, size limit…)."""
    guild = world.guild_of(channel)
    payload: dict[str, Any] = {
        "id": str(id_),
        "application_id": str(world.application_id),
        "type": type_,
        "token": token,
        "version": 1,
        "channel_id": str(channel.id),
        "channel": world.render.channel(channel),
        "locale": "en-US",
        "entitlements": [],
        "attachment_size_limit": guild.upload_limit if guild else 10 * 1024 * 1024,
    }
    if guild is None:
        payload.update(user=user_payload(user), context=1, app_permissions=str(0))
        payload["authorizing_integration_owners"] = {"0": "0"}
        return payload
    bot_perms = channel_permissions(guild, channel, world.bot_user.id)
    payload.update(
        guild_id=str(guild.id),
        guild={"id": str(guild.id), "locale": guild.locale, "features": []},
        guild_locale=guild.locale,
        member=world.render.member(guild.members[user.id], channel=channel),
        app_permissions=str(bot_perms),
        authorizing_integration_owners={"0": str(guild.id)},
        context=0,
    )
    return payload


# -- application commands -----------------------------------------------------------------------


def command_data(
    world: World,
    command: Command,
    path: list[str],
    values: dict[str, Any],
    channel: Channel,
    *,
    focused: str | None = None,
) -> dict[str, Any]:
    """``data`` for a CHAT_INPUT command or its autocomplete (``focused`` set)."""
    resolved: dict[str, dict[str, Any]] = {}
    defs = command.options
    nested: list[dict[str, Any]] = []
    outer = nested
    for name in path:
        option = next((o for o in defs if o["name"] == name and o["type"] in _SUBCOMMANDS), None)
        assert option is not None, f"/{command.name} has no subcommand {name!r}"
        entry: dict[str, Any] = {"name": name, "type": option["type"], "options": []}
        outer.append(entry)
        outer, defs = entry["options"], option.get("options") or []
    outer.extend(_options(world, command.name, defs, values, resolved, channel, focused))
    data: dict[str, Any] = {
        "id": str(command.id),
        "name": command.name,
        "type": 1,
        "options": nested,
    }
    if resolved:
        data["resolved"] = resolved
    if command.guild_id is not None:
        data["guild_id"] = str(command.guild_id)
    return data


def _options(
    world: World,
    command: str,
    defs: list[dict[str, Any]],
    values: dict[str, Any],
    resolved: dict[str, dict[str, Any]],
    channel: Channel,
    focused: str | None,
) -> list[dict[str, Any]]:
    by_name = {d["name"]: d for d in defs}
    unknown = set(values) - set(by_name)
    assert not unknown, f"/{command} has no option(s) {sorted(unknown)}; it has {sorted(by_name)}"
    assert focused is None or focused in by_name, f"/{command} has no option {focused!r}"
    options = []
    for spec in defs:
        name = spec["name"]
        if name not in values:
            assert focused is not None or not spec.get("required"), (
                f"/{command}: {name!r} is required"
            )
            continue
        if name == focused:
            assert spec.get("autocomplete"), f"/{command}: option {name!r} has no autocomplete"
            options.append(
                {"name": name, "type": spec["type"], "value": str(values[name]), "focused": True}
            )
            continue
        value = _convert(world, command, spec, values[name], resolved, channel)
        options.append({"name": name, "type": spec["type"], "value": value})
    return options


def _convert(
    world: World,
    command: str,
    spec: dict[str, Any],
    value: Any,
    resolved: dict[str, Any],
    channel: Channel,
) -> Any:
    kind, name = spec["type"], spec["name"]
    where = f"/{command} option {name!r}"
    if kind == STRING:
        assert isinstance(value, str), f"{where} takes a string"
        low, high = spec.get("min_length", 0), spec.get("max_length", 6000)
        assert low <= len(value) <= high, f"{where}: length must be {low}..{high}"
    elif kind in (INTEGER, NUMBER):
        assert isinstance(value, int | float) and not isinstance(value, bool), (
            f"{where} takes a number"
        )
        assert kind == NUMBER or float(value).is_integer(), f"{where} takes an integer"
        value = int(value) if kind == INTEGER else float(value)
        low, high = spec.get("min_value"), spec.get("max_value")
        assert low is None or value >= low, f"{where}: must be ≥ {low}"
        assert high is None or value <= high, f"{where}: must be ≤ {high}"
    elif kind == BOOLEAN:
        assert isinstance(value, bool), f"{where} takes a bool"
    elif kind == ATTACHMENT:
        return _attachment(world, value, resolved, channel)
    else:
        return _resolve_entity(world, where, kind, spec, value, resolved, channel)
    choices = spec.get("choices")
    if choices:
        allowed = [c["value"] for c in choices]
        assert value in allowed, f"{where}: {value!r} is not one of the choices {allowed}"
    return value


def _resolve_entity(
    world: World,
    where: str,
    kind: int,
    spec: dict[str, Any],
    value: Any,
    resolved: dict[str, Any],
    channel: Channel,
) -> str:
    if isinstance(value, User) and kind in (USER, MENTIONABLE):
        add_user(world, value, resolved, channel)
    elif isinstance(value, Role) and kind in (ROLE, MENTIONABLE):
        resolved.setdefault("roles", {})[str(value.id)] = role_payload(value)
    elif isinstance(value, Channel) and kind == CHANNEL:
        types = spec.get("channel_types")
        assert not types or value.type in types, f"{where}: channel type must be one of {types}"
        resolved.setdefault("channels", {})[str(value.id)] = _partial_channel(world, value)
    else:
        raise AssertionError(f"{where} cannot take {value!r} (option type {kind})")
    return str(value.id)


def add_user(world: World, user: User, resolved: dict[str, Any], channel: Channel) -> None:
    resolved.setdefault("users", {})[str(user.id)] = user_payload(user)
    guild = world.guild_of(channel)
    if guild is not None and user.id in guild.members:
        member = world.render.member(guild.members[user.id], with_user=False, channel=channel)
        resolved.setdefault("members", {})[str(user.id)] = member


def _partial_channel(world: World, channel: Channel) -> dict[str, Any]:
    full = world.render.channel(channel)
    keep = ("id", "name", "type", "parent_id", "thread_metadata")
    return {k: full[k] for k in keep if k in full} | {"permissions": str(0)}


def _attachment(world: World, value: Any, resolved: dict[str, Any], channel: Channel) -> str:
    filename, data = value[0], value[1]
    attachment = make_attachment(world, channel.id, filename, data, ephemeral=True)
    resolved.setdefault("attachments", {})[str(attachment.id)] = world.render.attachment(attachment)
    return str(attachment.id)


def context_menu_data(
    world: World, command: Command, target: Message | User, channel: Channel
) -> dict[str, Any]:
    """``data`` for a MESSAGE (type 3) or USER (type 2) context-menu command."""
    resolved: dict[str, Any] = {}
    if isinstance(target, Message):
        # The target of a message command is exempt from the MESSAGE_CONTENT intent.
        resolved["messages"] = {str(target.id): world.render.message(target)}
    else:
        add_user(world, target, resolved, channel)
    data = {
        "id": str(command.id),
        "name": command.name,
        "type": command.type,
        "target_id": str(target.id),
        "resolved": resolved,
    }
    if command.guild_id is not None:
        data["guild_id"] = str(command.guild_id)
    return data


# -- components and modals ------------------------------------------------------------------------


def component_data(
    world: World, message: Message, custom_id: str, values: list[Any] | None, channel: Channel
) -> dict[str, Any]:
    comp = message.component(custom_id)
    assert comp is not None, (
        f"message {message.id} has no component {custom_id!r}; it has {message.custom_ids()}"
    )
    assert not comp.get("disabled"), f"component {custom_id!r} is disabled"
    data: dict[str, Any] = {
        "custom_id": custom_id,
        "component_type": comp["type"],
        "id": comp.get("id"),
    }
    if comp["type"] == 2:
        assert values is None, f"{custom_id!r} is a button; use click()"
        return data
    assert comp["type"] in _SELECTS and values is not None, (
        f"{custom_id!r} is not a select; use click()"
    )
    low, high = comp.get("min_values", 1), comp.get("max_values", 1)
    assert low <= len(values) <= high, f"select {custom_id!r} takes {low}..{high} values"
    if comp["type"] == 3:
        allowed = [o["value"] for o in comp.get("options", [])]
        assert all(v in allowed for v in values), (
            f"select {custom_id!r}: values must be in {allowed}"
        )
        data["values"] = list(values)
        return data
    resolved: dict[str, Any] = {}
    for value in values:
        _resolve_entity(
            world, f"select {custom_id!r}", _select_kind(comp["type"]), {}, value, resolved, channel
        )
    data["values"] = [str(v.id) for v in values]
    data["resolved"] = resolved
    return data


def _select_kind(component_type: int) -> int:
    return {5: USER, 6: ROLE, 7: MENTIONABLE, 8: CHANNEL}[component_type]
