"""/history [search] [user] [model]: your finished jobs, newest first, five a page; each with a
Show button (``easel:show:<id>``, restart-proof) that brings the result back with all its
buttons, like Midjourney's /show. Who may list whom is ``bot.history``'s call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import Catalog
from bot.domain import Job
from bot.errors import EaselError, NotFound
from bot.history import PAGE, history_query
from bot.inputs import check_may_use
from bot.storage.history import HistoryQuery
from cogs import links, render
from cogs.imagine import model_choices
from cogs.replies import send_error
from cogs.template import JobButton

if TYPE_CHECKING:
    from bot.app import EaselBot


class History(commands.Cog):
    """The /history command."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot

    @app_commands.command(name="history", description="Find your earlier images")
    @app_commands.describe(
        search="Words in the prompt",
        user="Whose images (server owners and managers only, for others)",
        model="Only this model's (type to search)",
    )
    async def history(
        self,
        interaction: discord.Interaction[EaselBot],
        search: app_commands.Range[str, 1, 200] | None = None,
        user: discord.User | None = None,
        model: str | None = None,
    ) -> None:
        await interaction.response.defer(thinking=True, ephemeral=True)
        try:
            perms = interaction.permissions
            guild = interaction.guild
            manager = perms.manage_guild or (
                guild is not None and guild.owner_id == interaction.user.id
            )
            query = history_query(
                str(interaction.user.id),
                target=str(user.id) if user else None,
                guild_id=str(interaction.guild_id) if interaction.guild_id else None,
                manager=manager,
                text=search,
                model=model,
            )
            page = HistoryPage(self.bot, query)
            await interaction.followup.send(**await page.render(0), ephemeral=True)
        except EaselError as exc:
            await send_error(interaction, exc)

    @history.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction[EaselBot], current: str
    ) -> list[app_commands.Choice[str]]:
        return model_choices(self.bot.service.catalog, current)


class HistoryPage(discord.ui.View):
    """One page of a search, with Show buttons and Newer / Older; the page lives 15 minutes,
    its Show buttons for good."""

    def __init__(self, bot: Any, query: HistoryQuery) -> None:
        super().__init__(timeout=900)
        self.bot, self.query, self.offset = bot, query, 0

    async def render(self, offset: int) -> dict[str, Any]:
        self.offset = offset
        store = self.bot.service.store
        found = await store.search_jobs(self.query, offset=offset, limit=PAGE + 1)
        jobs, more = found[:PAGE], len(found) > PAGE
        self.clear_items()
        for number, job in enumerate(jobs, start=offset + 1):
            self.add_item(ShowButton(job.id, number))
        older, newer = (
            _Turn(self, "Older", PAGE, not more),
            _Turn(self, "Newer", -PAGE, offset == 0),
        )
        self.add_item(newer)
        self.add_item(older)
        return {"embed": page_embed(jobs, offset, self.bot.service.catalog), "view": self}


class _Turn(discord.ui.Button["HistoryPage"]):
    def __init__(self, page: HistoryPage, label: str, step: int, disabled: bool) -> None:
        super().__init__(label=label, row=1, disabled=disabled)
        self.page, self.step = page, step

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        kwargs = await self.page.render(max(0, self.page.offset + self.step))
        await interaction.response.edit_message(**kwargs)


def page_embed(jobs: list[Job], offset: int, catalog: Catalog) -> discord.Embed:
    if not jobs:
        return discord.Embed(description="No images found." if offset == 0 else "No more.")
    lines = []
    for number, job in enumerate(jobs, start=offset + 1):
        when = f"<t:{int(job.created_at.timestamp())}:R>" if job.created_at else ""
        label = catalog.get(job.spec.model).label
        lines.append(f"**{number}.** job {job.id} · {label} {when}\n{render.clip(job.prompt, 150)}")
    return discord.Embed(title="Your history", description="\n".join(lines))


class ShowButton(JobButton):
    """Brings a result back with all its buttons, where the Show was pressed."""

    action, label, emoji, acknowledge = "show", "Show", "🖼️", "as_job"

    async def allowed(self, interaction: discord.Interaction[Any], job: Job) -> None:
        origin = {"guild_id": str(interaction.guild_id) if interaction.guild_id else None}
        check_may_use(job, str(interaction.user.id), origin)

    def __init__(self, job_id: int, number: int | None = None) -> None:
        super().__init__(job_id)
        if number is not None:
            self.item.label = f"Show {number}"

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        client = interaction.client
        if not job.result_images and not job.result_text:
            raise NotFound("That job has nothing to show.")
        store = client.service.store
        originals = [await store.get_image(sha) for sha in job.result_images]
        limit = interaction.filesize_limit or links.DEFAULT_UPLOAD_LIMIT
        payload = await render.result_payload(
            job, originals, client.service.catalog, per_file=limit, view=None
        )
        view = client.delivery.view_for(job, ok=True, full=payload.reencoded)
        await interaction.followup.send(
            embeds=payload.embeds, files=payload.discord_files(), view=view
        )


async def setup(bot: EaselBot) -> None:
    await bot.add_cog(History(bot))
    bot.add_dynamic_items(ShowButton)
