"""The fake Discord, proven with the real discord.py client and a tiny bot defined here.

The bot is not Easel: it only exercises the surfaces Easel will use (slash command with
autocomplete, deferred followup with a file and an ``attachment://`` embed, a DynamicItem
button, a modal with a File Upload, a message context menu, replies, threads).
"""

from __future__ import annotations

import asyncio
import io
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

import aiohttp
import pytest
import yarl
from PIL import Image

with warnings.catch_warnings():
    # discord.py imports audioop for voice; Python 3.11 warns about it at import time.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord import app_commands

from tests.fakes.discord import FakeDiscord, Perm

pytestmark = pytest.mark.timeout(30)


def png(width: int = 4, height: int = 3) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(buffer, format="PNG")
    return buffer.getvalue()


# -- the tiny bot ---------------------------------------------------------------------------------


class RetryButton(discord.ui.DynamicItem[discord.ui.Button], template=r"easel:retry:(?P<job>\d+)"):
    """Stateless button: everything it needs is in the custom_id."""

    def __init__(self, job: int) -> None:
        super().__init__(discord.ui.Button(label="Retry", custom_id=f"easel:retry:{job}"))
        self.job = job

    @classmethod
    async def from_custom_id(cls, interaction, item, match):
        return cls(int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.edit_message(content=f"retrying job {self.job}")


class EditModal(discord.ui.Modal, title="Edit image"):
    instruction = discord.ui.Label(
        text="Instruction", component=discord.ui.TextInput(custom_id="instruction", max_length=200)
    )
    mask = discord.ui.Label(
        text="Mask", component=discord.ui.FileUpload(custom_id="mask", required=False)
    )

    def __init__(self, target: discord.Message) -> None:
        super().__init__(custom_id="easel:edit-modal")
        self.target = target

    async def on_submit(self, interaction: discord.Interaction) -> None:
        uploads = self.mask.component.values
        mask = await uploads[0].read() if uploads else b""
        text = self.instruction.component.value
        await interaction.response.send_message(
            f"editing {self.target.id}: {text} (mask {len(mask)} bytes)",
            file=discord.File(io.BytesIO(mask), "mask-echo.png"),
            ephemeral=True,
        )


class SizeView(discord.ui.View):
    """An ordinary (message-bound) view, to prove the callback's message id is right."""

    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.select(
        custom_id="easel:size",
        options=[discord.SelectOption(label="1K"), discord.SelectOption(label="2K")],
    )
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        await interaction.response.edit_message(content=f"size {select.values[0]}", view=None)


class TinyBot(discord.Client):
    def __init__(self, *, message_content: bool = True) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.seen: list[tuple[str, int]] = []
        self.forwards: list[discord.Message] = []
        self.failures: list[Exception] = []
        self.release = asyncio.Event()
        add_commands(self)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(RetryButton)
        await self.tree.sync()

    async def on_message(self, message: discord.Message) -> None:
        if message.author == self.user:
            return
        self.seen.append((message.content, len(message.attachments)))
        if message.message_snapshots:
            self.forwards.append(message)
            return
        if message.reference and message.attachments:
            files = [await a.to_file() for a in message.attachments]
            await message.reply(f"got {len(files)}: {message.content}", files=files)
        elif "make thread" in message.content:
            thread = await message.create_thread(name="Easel session")
            await thread.send("refining here")
        elif isinstance(message.channel, discord.Thread):
            await message.channel.send(f"refined: {message.content}")


def add_commands(bot: TinyBot) -> None:
    tree = bot.tree

    @tree.command(description="Make an image")
    @app_commands.describe(prompt="What to draw")
    async def imagine(
        interaction: discord.Interaction,
        prompt: str,
        count: app_commands.Range[int, 1, 4] = 1,
        model: str = "gpt-image-1",
    ) -> None:
        await interaction.response.defer(thinking=True)
        image = discord.File(io.BytesIO(png()), "result.png", description=f"alt: {prompt}")
        embed = discord.Embed(title=prompt).set_image(url="attachment://result.png")
        view = discord.ui.View(timeout=None)
        view.add_item(RetryButton(42))
        await interaction.followup.send(
            f"{prompt} x{count} via {model}", file=image, embed=embed, view=view
        )

    @imagine.autocomplete("model")
    async def model_choices(interaction: discord.Interaction, current: str):
        models = ["gpt-image-1", "gpt-image-1.5", "gemini-3-pro-image"]
        return [app_commands.Choice(name=m, value=m) for m in models if current in m]

    @tree.command(description="Defer, wait for the test, then follow up")
    async def slow(interaction: discord.Interaction, defer_first: bool = True) -> None:
        try:
            if defer_first:
                await interaction.response.defer()
            await bot.release.wait()
            if not defer_first:
                await interaction.response.defer()
            await interaction.followup.send("finally")
        except discord.HTTPException as exc:
            bot.failures.append(exc)

    @tree.command(description="Pick a size")
    async def size(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pick one", view=SizeView(), ephemeral=True)

    @tree.command(description="Report progress")
    async def status(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("working")
        await interaction.edit_original_response(content="done")
        original = await interaction.original_response()
        extra = await interaction.followup.send(
            f"was {original.content}", ephemeral=True, wait=True
        )
        await extra.delete()

    @tree.context_menu(name="Edit image")
    async def edit_image(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_modal(EditModal(message))


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
def place(fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """A guild with #general, a member alice, and discord.py pointed at the fake."""
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
    )
    guild = fake.create_guild("Studio")
    channel = fake.create_channel(guild, "general")
    alice = fake.create_user("alice", guild=guild)
    return SimpleNamespace(guild=guild, channel=channel, alice=alice)


@asynccontextmanager
async def running(fake: FakeDiscord, bot: discord.Client) -> AsyncIterator[discord.Client]:
    task = asyncio.create_task(bot.start(fake.token))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), 10)
        await fake.wait_for_ready()
        yield bot
    finally:
        await bot.close()
        await asyncio.wait_for(task, 10)


@pytest.fixture
async def bot(fake: FakeDiscord, place: SimpleNamespace) -> AsyncIterator[TinyBot]:
    async with running(fake, TinyBot()) as client:
        await fake.wait_for_commands(["imagine", "slow", "size", "status", "Edit image"])
        yield client


async def imagine_result(fake: FakeDiscord, place: SimpleNamespace):
    handle = await fake.slash(
        place.alice, place.channel, "imagine", {"prompt": "a cat", "count": 2}
    )
    return handle, await handle.original()


# -- tests ------------------------------------------------------------------------------------------


async def test_connects_and_receives_guilds(fake, place, bot):
    assert bot.user.id == fake.bot_user.id
    guild = bot.get_guild(place.guild.id)
    assert guild is not None and guild.get_channel(place.channel.id).name == "general"
    assert guild.filesize_limit == 10 * 1024 * 1024
    assert fake.gateway.identifies == 1 and fake.gateway.connect_paths == ["/gateway/"]
    assert [r.path for r in fake.requests[:2]] == ["/users/@me", "/oauth2/applications/@me"]


async def test_commands_are_synced_with_option_types(fake, bot):
    imagine = next(c for c in fake.commands() if c.name == "imagine")
    types = {o["name"]: (o["type"], o.get("autocomplete", False)) for o in imagine.options}
    assert types == {"prompt": (3, False), "count": (4, False), "model": (3, True)}
    assert {c.name: c.type for c in fake.commands()}["Edit image"] == 3


async def test_slash_defers_then_follows_up_with_a_file(fake, place, bot):
    handle, message = await imagine_result(fake, place)
    assert handle.response_type == 5 and handle.ack_latency < 3
    assert handle.followups == [message]  # the first followup replaced "thinking…"
    assert message.content == "a cat x2 via gpt-image-1"
    image = message.attachments[0]
    assert (image.filename, image.description, image.content_type) == (
        "result.png",
        "alt: a cat",
        "image/png",
    )
    assert (image.width, image.height) == (4, 3) and message.embed_image() is image
    assert message.custom_ids() == ["easel:retry:42"]
    fetched = await bot.get_channel(place.channel.id).fetch_message(message.id)
    assert await fetched.attachments[0].read() == png()
    assert fetched.embeds[0].image.url.startswith(fake.base_url + "/attachments/")


async def test_cdn_urls_are_signed_and_expire(fake, place, bot):
    _, message = await imagine_result(fake, place)
    fetched = await bot.get_channel(place.channel.id).fetch_message(message.id)
    url = fetched.attachments[0].url
    async with aiohttp.ClientSession() as session:
        async with session.get(url.replace("hm=", "hm=0")) as tampered:
            assert tampered.status == 404
        fake.advance_time(25 * 3600)
        async with session.get(url) as expired:
            assert expired.status == 404
    refetched = await bot.get_channel(place.channel.id).fetch_message(message.id)
    assert await refetched.attachments[0].read() == png()


async def test_autocomplete_offers_matching_models(fake, place, bot):
    choices = await fake.autocomplete(
        place.alice, place.channel, "imagine", {"prompt": "x", "model": "gpt"}, focused="model"
    )
    assert [c["value"] for c in choices] == ["gpt-image-1", "gpt-image-1.5"]


async def test_button_edits_message_even_after_a_restart(fake, place, bot):
    _, message = await imagine_result(fake, place)
    click = await fake.click(place.alice, message, "easel:retry:42")
    assert await click.wait_ack() == 7
    assert message.content == "retrying job 42" and message.edits[-1]["content"].startswith("a cat")

    await bot.close()
    async with running(fake, TinyBot()):
        again = await fake.click(place.alice, message, "easel:retry:42")
        assert await again.wait_ack() == 7
    assert fake.gateway.identifies == 2


async def test_message_command_opens_modal_and_receives_file(fake, place, bot):
    target = await fake.post_message(
        place.alice, place.channel, "a photo", attachments=[("in.png", png())]
    )
    opened = await fake.message_command(place.alice, target, "Edit image")
    modal = await opened.wait_modal()
    assert modal["title"] == "Edit image"
    submitted = await fake.submit_modal(
        place.alice,
        opened,
        {"instruction": "make it blue"},
        files={"mask": [("mask.png", png(2, 2))]},
    )
    reply = await submitted.original()
    assert reply.ephemeral and reply not in fake.messages(place.channel)
    assert reply.content == f"editing {target.id}: make it blue (mask {len(png(2, 2))} bytes)"
    assert reply.attachments[0].data == png(2, 2)  # a multipart interaction callback


async def test_reply_with_attachment_gets_a_reply_with_the_same_bytes(fake, place, bot):
    _, result = await imagine_result(fake, place)
    data = png(5, 5)
    mine = await fake.post_message(
        place.alice,
        place.channel,
        "make it bigger",
        attachments=[("ref.png", data)],
        reply_to=result,
    )
    answer = await fake.wait_for_message(place.channel, after=mine)
    assert answer.referenced_id == mine.id and answer.content == "got 1: make it bigger"
    assert answer.attachments[0].data == data


async def test_without_message_content_only_mentions_are_readable(fake, place):
    async with running(fake, TinyBot(message_content=False)) as client:
        await fake.post_message(
            place.alice, place.channel, "hello there", attachments=[("a.png", png())]
        )
        await fake.post_message(place.alice, place.channel, "hi bot", mention_bot=True)
        await fake.post_message(place.alice, fake.dm_channel(place.alice), "a secret")
        await fake.world.wait_until(lambda: len(client.seen) == 3, 5, "three messages seen")
    assert client.seen == [("", 0), (f"<@{fake.bot_user.id}> hi bot", 0), ("a secret", 0)]


async def test_forward_carries_a_frozen_copy_of_the_message(fake, place, bot):
    other = fake.create_channel(place.guild, "elsewhere")
    data = png(6, 6)
    original = await fake.post_message(
        place.alice, place.channel, "look", attachments=[("a.png", data)]
    )
    forward = await fake.forward(place.alice, original, other)
    await fake.edit_message(original, "changed later")
    [seen] = await fake.world.wait_until(lambda: bot.forwards or None, 5, "the forward")
    ref = seen.reference
    assert ref.type is discord.MessageReferenceType.forward and ref.message_id == original.id
    assert ref.channel_id == place.channel.id and ref.resolved is None
    assert seen.flags.forwarded and seen.content == "" and not seen.attachments
    [copy] = seen.message_snapshots
    assert copy.content == "look" and copy.attachments[0].filename == "a.png"
    assert await copy.attachments[0].read() == data
    fake.advance_time(60)
    fetched = await bot.get_channel(other.id).fetch_message(forward.id)
    [again] = fetched.message_snapshots
    assert again.content == "look"  # a snapshot: later edits don't reach it
    assert again.attachments[0].url != copy.attachments[0].url  # signed afresh on every fetch


async def test_without_message_content_a_forward_has_an_empty_copy(fake, place):
    async with running(fake, TinyBot(message_content=False)) as client:
        original = await fake.post_message(
            place.alice, place.channel, "look", attachments=[("a.png", png())]
        )
        await fake.forward(place.alice, original, place.channel)
        [seen] = await fake.world.wait_until(lambda: client.forwards or None, 5, "the forward")
    [copy] = seen.message_snapshots
    assert copy.content == "" and not copy.attachments


async def test_thread_from_message_and_refining_inside_it(fake, place, bot):
    start = await fake.post_message(place.alice, place.channel, "make thread please")
    [thread] = await fake.world.wait_until(lambda: fake.threads(place.channel), 5, "a thread")
    assert thread.id == start.id and thread.name == "Easel session"
    first = await fake.wait_for_message(thread)
    assert first.content == "refining here"
    await fake.archive_thread(thread)
    parent = bot.get_channel(place.channel.id)
    # discord.py drops archived threads from its cache when THREAD_UPDATE says so.
    await fake.world.wait_until(lambda: bot.get_channel(thread.id) is None, 5, "THREAD_UPDATE")
    assert [t.id async for t in parent.archived_threads()] == [thread.id]
    turn = await fake.post_message(place.alice, thread, "more contrast")
    assert not thread.archived  # a new message unarchives the thread
    reply = await fake.wait_for_message(thread, after=turn)
    assert reply.content == "refined: more contrast"
    history = [m async for m in bot.get_channel(thread.id).history(limit=2)]
    assert [m.id for m in history] == [reply.id, turn.id]


async def test_gateway_drop_resumes_and_replays(fake, place, bot):
    await fake.drop_gateway()
    await fake.post_message(place.alice, place.channel, "while you were away")
    await fake.world.wait_until(lambda: fake.gateway.resumes == 1, 10, "a RESUME")
    await fake.world.wait_until(lambda: bot.seen, 5, "the missed message replayed")
    assert bot.seen == [("while you were away", 0)]
    assert fake.gateway.identifies == 1 and fake.gateway.connect_paths[-1] == "/gateway-resume/"
    _, message = await imagine_result(fake, place)
    assert message.attachments


async def test_upload_refusal_surfaces_as_40005(fake, place, bot):
    fake.refuse_uploads()
    channel = bot.get_channel(place.channel.id)
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send(file=discord.File(io.BytesIO(png()), "a.png"))
    assert (caught.value.status, caught.value.code) == (413, 40005)
    assert (await channel.send(file=discord.File(io.BytesIO(png()), "a.png"))).attachments


async def test_429_with_via_is_retried_by_discord_py(fake, place, bot):
    fake.rate_limit("/messages", retry_after=0.2, method="POST")
    sent = await bot.get_channel(place.channel.id).send("after the wait")
    assert sent.content == "after the wait"
    assert [r.status for r in fake.requests_to("/messages", "POST")] == [429, 200]


async def test_expired_token_fails_the_followup(fake, place, bot):
    handle = await fake.slash(place.alice, place.channel, "slow")
    assert await handle.wait_ack() == 5
    fake.expire_interaction(handle)
    bot.release.set()
    await fake.world.wait_until(lambda: bot.failures, 5, "the followup to fail")
    assert bot.failures[0].code == 50027 and handle.rejected[0].code == 50027


async def test_late_acknowledgement_is_an_unknown_interaction(fake, place, bot):
    handle = await fake.slash(place.alice, place.channel, "slow", {"defer_first": False})
    fake.advance_time(3.5)
    bot.release.set()
    await fake.world.wait_until(lambda: bot.failures, 5, "the late defer to fail")
    assert isinstance(bot.failures[0], discord.NotFound) and bot.failures[0].code == 10062
    assert not handle.acknowledged


async def test_limits_and_permissions_are_enforced(fake, place, bot):
    channel = bot.get_channel(place.channel.id)
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.code == 50035
    quiet = fake.create_channel(place.guild, "read-only", bot_permissions=Perm.VIEW_CHANNEL)
    await fake.world.wait_until(lambda: bot.get_channel(quiet.id), 5, "CHANNEL_CREATE")
    with pytest.raises(discord.Forbidden) as forbidden:
        await bot.get_channel(quiet.id).send("hi")
    assert forbidden.value.code == 50013


async def test_a_second_callback_is_already_acknowledged(fake, place, bot):
    handle, _ = await imagine_result(fake, place)
    url = f"{fake.api_base}/interactions/{handle.id}/{handle.token}/callback"
    async with aiohttp.ClientSession() as session, session.post(url, json={"type": 5}) as response:
        assert response.status == 400 and (await response.json())["code"] == 40060


async def test_ephemeral_select_edits_its_own_message(fake, place, bot):
    handle = await fake.slash(place.alice, place.channel, "size")
    menu = await handle.original()
    assert menu.ephemeral and menu not in fake.messages(place.channel)
    picked = await fake.select(place.alice, menu, "easel:size", ["2K"])
    assert await picked.wait_ack() == 7
    assert (menu.content, menu.components) == ("size 2K", [])


async def test_original_response_routes(fake, place, bot):
    handle = await fake.slash(place.alice, place.channel, "status")
    [extra] = await handle.wait_followups()
    await fake.world.wait_until(lambda: extra.deleted, 5, "the followup to be deleted")
    assert handle.original_message.content == "done" and extra.content == "was done"
    methods = [r.method for r in fake.requests_to("/webhooks/")]
    assert methods[0] == "PATCH" and methods[-1] == "DELETE"


async def test_history_pages_like_discord(fake, place, bot):
    posted = [await fake.post_message(place.alice, place.channel, f"m{i}") for i in range(5)]
    channel = bot.get_channel(place.channel.id)
    newest = [m.content async for m in channel.history(limit=2)]
    before = [
        m.content async for m in channel.history(limit=2, before=discord.Object(posted[3].id))
    ]
    after = [m.content async for m in channel.history(limit=2, after=discord.Object(posted[1].id))]
    around = [
        m.content async for m in channel.history(limit=3, around=discord.Object(posted[2].id))
    ]
    assert (newest, before, after) == (["m4", "m3"], ["m2", "m1"], ["m2", "m3"])
    assert sorted(around) == ["m1", "m2", "m3"]


async def test_sharded_client_gets_each_guild_once(fake, place):
    class QuickShards(discord.AutoShardedClient):
        async def before_identify_hook(self, shard_id, *, initial=False):
            pass  # Discord wants 5 s between IDENTIFYs; the fake does not

    for n in range(3):
        fake.create_guild(f"extra {n}")
    client = QuickShards(intents=discord.Intents.default(), shard_count=2, guild_ready_timeout=0.05)
    async with running(fake, client):
        assert len(client.guilds) == 4
        sessions = list(fake.gateway.sessions.values())
        assert sorted(s.shard for s in sessions) == [(0, 2), (1, 2)]
        for guild in client.guilds:
            assert guild.shard_id == (guild.id >> 22) % 2
