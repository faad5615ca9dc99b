"""The template every button follows: load the job, check who may press it, acknowledge, act;
any error on the way is answered through ``replies.send_error``. A button keeps only a job id in
its custom id (``cogs.links``), so it works the same after a restart."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import discord

from bot.domain import Job
from bot.errors import EaselError, NotAllowed, NotFound
from bot.policy import way_of
from cogs import links
from cogs.replies import send_error, send_unexpected

OWNER, OWNER_OR_MOD, ANYONE = "owner", "owner_or_mod", "anyone"


class JobButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=links.template("job")):
    """Base for buttons keyed by a job id; subclasses set the action word, look and rules."""

    action = "job"
    label = "?"
    emoji: str | None = None
    style = discord.ButtonStyle.secondary
    who: ClassVar[str] = ANYONE  # who may press it
    refusal: ClassVar[str] = ""  # said to anyone else
    acknowledge: ClassVar[str | None] = None  # "ephemeral", "as_job", "update", or act answers
    # The way in a press starts a job by, for the server's rules: "same" as the job's, "edit"…
    starts: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        kwargs.setdefault("template", links.template(cls.action))
        super().__init_subclass__(**kwargs)

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=self.label,
                emoji=self.emoji,
                style=self.style,
                custom_id=links.custom_id(self.action, job_id),
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> JobButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            job = await interaction.client.service.store.get_job(self.job_id)
            if job is None:
                raise NotFound("I can't find that job any more.")
            self.check(interaction, job)
            await self.admitted(interaction, job)
            await self.allowed(interaction, job)
            await self._acknowledge(interaction, job)
            await self.act(interaction, job)
        except EaselError as exc:
            await send_error(interaction, exc)
        except Exception as exc:
            await send_unexpected(interaction, exc)

    def check(self, interaction: discord.Interaction[Any], job: Job) -> None:
        if self.who == ANYONE or str(interaction.user.id) == job.user_id:
            return
        perms = getattr(interaction, "permissions", None)
        if self.who == OWNER_OR_MOD and perms is not None and perms.manage_messages:
            return
        raise NotAllowed(self.refusal)

    async def admitted(self, interaction: discord.Interaction[Any], job: Job) -> None:
        """The server's rules, for a press that starts a job: refused ephemerally, at once."""
        if self.starts is not None:
            way = way_of(job.kind) if self.starts == "same" else self.starts
            await interaction.client.service.policy.admit(way, links.actor_origin(interaction))

    async def allowed(self, interaction: discord.Interaction[Any], job: Job) -> None:
        """Rules that need the store; refused before anything is acknowledged."""

    async def _acknowledge(self, interaction: discord.Interaction[Any], job: Job) -> None:
        if self.acknowledge == "ephemeral":
            await interaction.response.defer(ephemeral=True, thinking=True)
        elif self.acknowledge == "as_job":
            await interaction.response.defer(thinking=True, ephemeral=private(job))
        elif self.acknowledge == "update":
            await interaction.response.defer()

    async def act(self, interaction: discord.Interaction[Any], job: Job) -> None:
        raise NotImplementedError


def private(job: Job) -> bool:
    return bool(job.origin.get("private"))
