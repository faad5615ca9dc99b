"""A fake Discord on loopback that the unmodified discord.py client talks to.

One port serves the REST API (``/api/v10``), the gateway websocket (``/gateway/``, resumes
on ``/gateway-resume/``) and the attachment CDN (``/attachments/…``). Point discord.py at it
before ``login``/``start``::

    discord.http.Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)

Nothing else in discord.py 2.7 hard-codes discord.com on the paths a bot uses: webhooks and
interaction responses build ``Route`` objects too (only ``Webhook.url`` and jump URLs still
print discord.com). ``AutoShardedClient`` asks ``GET /gateway/bot``, which returns
``fake.gateway_url``; give it a no-op ``before_identify_hook`` or each extra shard waits 5 s.
Pass ``guild_ready_timeout=0.05`` to the client in tests: discord.py waits that long (2 s by
default) after the last GUILD_CREATE before ``on_ready``. ``import discord`` warns about
``audioop`` on Python 3.11, so import it under ``warnings.catch_warnings()`` while pytest
treats warnings as errors.

Driver API (``FakeDiscord``; every wait is bounded and fails with an AssertionError that
names what it was waiting for):

Lifecycle and identity
    ``async with FakeDiscord() as fake`` (or ``await fake.start()`` / ``await fake.stop()``);
    ``fake.api_base``, ``fake.gateway_url``, ``fake.base_url`` (CDN), ``fake.token`` (the
    only bot token accepted), ``fake.application_id``, ``fake.bot_user``. Options:
    ``bot_name``, ``privileged_intents`` (portal toggles; IDENTIFY with others → close
    4014), ``ack_deadline`` (3 s), ``token_lifetime`` (15 min), ``cdn_url_lifetime``,
    ``heartbeat_interval``, ``rate_limit=(limit, window_s)`` for the real buckets.

World
    ``create_guild(name, upload_limit=10 MiB, bot_permissions=…, everyone_permissions=…)``,
    ``create_channel(guild, name, bot_permissions=None)``, ``create_user(name, guild=…,
    roles=…)``, ``add_member(guild, user, roles=…)``, ``create_role(guild, name, perms)``,
    ``set_permissions(channel, target=None (the bot) | user | role, allow=…, deny=…)``,
    ``dm_channel(user)``; permission bits are ``Perm``. Made after READY, they are dispatched.

Gateway and commands
    ``await wait_for_ready()``, ``await wait_for_commands(names, guild=None)``,
    ``commands(guild=None)``; ``fake.gateway`` exposes ``identifies``, ``resumes``,
    ``connect_paths``, ``close_codes`` and ``sessions``.

Interactions (each returns an ``InteractionHandle``)
    ``slash(user, channel, "imagine", {"prompt": …})`` (options typed and checked against
    the registered command; ``"group sub"`` for subcommands; attachments as
    ``(name, bytes)``); ``autocomplete(user, channel, name, options, focused)`` → choices;
    ``click(user, message, custom_id)``; ``select(user, message, custom_id, values)``;
    ``submit_modal(user, opened_by, {custom_id: text}, files={custom_id: [(name, bytes)]})``;
    ``message_command(user, message, "Edit image")``; ``user_command(user, target, channel,
    name)``; ``expire_interaction(handle)``.
    Handle: ``await wait_ack(timeout)`` → callback type (4 message, 5 defer, 6 deferred
    update, 7 update, 8 choices, 9 modal); ``await original(timeout)`` → the response
    message once it is not "thinking…"; ``await wait_followups(n)``; ``await wait_modal()``;
    ``response_type``, ``responses`` (callback bodies), ``original_message``,
    ``followups``, ``modal``, ``choices``, ``ephemeral``, ``deferred``, ``ack_latency``,
    ``rejected`` (ApiErrors the fake returned for this interaction, e.g. 40060, 50027).
    The first followup after a type-5 defer replaces the "thinking…" message, so it is
    both ``original_message`` and ``followups[0]``, as on Discord.

Messages and threads
    ``await post_message(user, channel, "text", attachments=[(name, bytes[, alt])],
    reply_to=msg, mention_bot=True, ping_reply=True, embeds=[…])``;
    ``await forward(user, msg, to_channel)`` (a FORWARD reference, the copy in
    ``message_snapshots``); ``await edit_message(msg, text)``, ``await delete_message(msg)``;
    ``messages(channel)`` (oldest first, no ephemerals); ``message(id)``; ``await
    wait_for_message(channel, predicate=None (by the bot), after=msg)``; ``threads(channel,
    archived=None)``; ``await start_thread(user, message, name)``; ``await
    archive_thread(thread, locked=False)``; ``await unarchive_thread(thread)``.
    ``model.Message`` has ``content, embeds, components, attachments, flags, edits`` (earlier
    versions), ``reference``, ``snapshots`` (a forward's copies), ``thread_id``, ``reactions``,
    ``custom_ids()``, ``component(id)``, ``embed_image(i)`` (the attachment behind
    ``attachment://``);
    ``model.Attachment`` has ``filename, data, size, content_type, description, width,
    height``. Threads are ``model.Channel`` objects with ``parent_id``.

Faults and inspection
    ``await drop_gateway(code=4000)`` (resumable), ``await request_reconnect()`` (op 7),
    ``await invalidate_session()`` (op 9), ``refuse_uploads(times=1)`` (413/40005),
    ``rate_limit(path_substring, times=1, retry_after=0.3, scope="user", is_global=False)``,
    ``advance_time(seconds)``, ``requests`` / ``requests_to(path, method)`` (method, path,
    query, status, json, files), ``world.cdn.downloads``. A bug inside the fake (an exception
    in a handler) becomes a 500 for the bot and an AssertionError when ``async with`` exits.
    Close the bot before the fake, or discord.py keeps trying to reconnect.

Faithful where discord.py looks: error bodies and codes (10003, 10008, 10015, 10062, 30015,
40005, 40060, 50001, 50005, 50006, 50013, 50027, 50035 with ``errors``, 50083, 160004),
rate-limit headers, MESSAGE_CONTENT stripping, signed CDN URLs that expire.
"""

from .driver import FakeDiscord
from .errors import ApiError
from .interactions import InteractionHandle
from .model import Attachment, Channel, Guild, Message, Role, User
from .permissions import DEFAULT_EVERYONE, Perm

__all__ = [
    "DEFAULT_EVERYONE",
    "ApiError",
    "Attachment",
    "Channel",
    "FakeDiscord",
    "Guild",
    "InteractionHandle",
    "Message",
    "Perm",
    "Role",
    "User",
]
