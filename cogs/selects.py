"""The template every select under a result follows, like ``cogs.template.JobButton`` for
buttons: the job id in its custom id (``easel:<action>:<id>``, so it works after a restart),
then load the job and act on the value picked; any error is answered through ``replies``."""

from __future__ import annotations

import re
from typing import Any

import discord

from bot.domain import Job
from bot.errors import EaselError, NotFound
from cogs import links
from cogs.replies import send_error, send_unexpected


class JobSelect(discord.ui.DynamicItem[discord.ui.Select[Any]], template=links.template("select")):
    """Base for selects keyed by a job id; subclasses set the action word and placeholder."""

    action = "select"
    placeholder = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        kwargs.setdefault("template", links.template(cls.action))
        super().__init_subclass__(**kwargs)

    def __init__(self, job_id: int, options: list[discord.SelectOption] | None = None) -> None:
        super().__init__(
            discord.ui.Select(
                custom_id=links.custom_id(self.action, job_id),
                placeholder=self.placeholder,
                # Rebuilt from a custom id only to be called back: its options are not sent.
                options=options or [discord.SelectOption(label="?")],
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str]
    ) -> JobSelect:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            values = (interaction.data or {}).get("values") or []
            job = await interaction.client.service.store.get_job(self.job_id)
            if job is None:
                raise NotFound("I can't find that job any more.")
            await self.act(interaction, job, str(values[0]) if values else "")
        except EaselError as exc:
            await send_error(interaction, exc)
        except Exception as exc:
            await send_unexpected(interaction, exc)

    async def act(self, interaction: discord.Interaction[Any], job: Job, value: str) -> None:
        raise NotImplementedError
