"""What users see: progress lines, result and error messages. Builds payloads; sends nothing."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import discord

from bot import describe, fitting
from bot.catalog import Catalog
from bot.domain import Job, JobKind
from bot.errors import EaselError, RateLimited
from bot.iterate import ACTIONS

MESSAGE_LIMIT = 25 * 1024 * 1024  # Discord's whole-request cap
OK_COLOUR = discord.Colour.from_rgb(88, 101, 242)
ERROR_COLOUR = discord.Colour.from_rgb(237, 66, 69)
ALT_TEXT_LIMIT = 1024


@dataclass
class Payload:
    """Keyword arguments for a send or an edit, built once and reusable."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    files: list[tuple[str, bytes, str]] = field(default_factory=list)  # name, data, alt text
    view: discord.ui.View | None = None
    reencoded: bool = False

    def discord_files(self) -> list[discord.File]:
        # discord.File wraps a stream that is consumed by a send, so make fresh ones per attempt.
        return [
            discord.File(io.BytesIO(data), filename=name, description=alt)
            for name, data, alt in self.files
        ]


def progress_text(prompt: str, position: int | None, elapsed: float | None, model: str) -> str:
    head = f"> {clip(prompt, 300)}\n"
    if position:
        ahead = "next in line" if position == 1 else f"position {position} in the queue"
        return head + f"⏳ Waiting to start: {ahead}."
    if elapsed is None:
        return head + f"🎨 Starting {model}…"
    return head + f"🎨 Generating with {model}… {int(elapsed)} s"


async def fit_for_upload(data: list[bytes], per_file: int) -> list[fitting.FittedImage]:
    """Fit every image under the per-file limit and all of them under the message limit."""
    count = max(1, len(data))
    limit = min(per_file, (MESSAGE_LIMIT - 512 * 1024) // count)
    return [await fitting.fitted(item, limit) for item in data]


async def result_payload(
    job: Job,
    originals: list[bytes],
    catalog: Catalog,
    *,
    per_file: int,
    view: discord.ui.View | None,
    version: int | None = None,
) -> Payload:
    fitted = await fit_for_upload(originals, per_file)
    files = []
    for index, fit in enumerate(fitted, start=1):
        alt = clip(f"Image {index} of {len(fitted)} for: {job.prompt}", ALT_TEXT_LIMIT)
        files.append((f"easel-{job.id}-{index}.{fit.ext}", fit.data, alt))
    embed = discord.Embed(description=clip(_described(job) or job.prompt, 3500), colour=OK_COLOUR)
    title = f"{job.kind.value.capitalize()} · job {job.id}"
    embed.set_author(name=f"v{version} · {title}" if version else title)
    model = catalog.get(job.spec.model)
    embed.add_field(name="Model", value=model.label)
    embed.add_field(name="Size", value=_sizes(fitted, job))
    if job.cost is not None and cost_shown(job) == "everyone":
        embed.add_field(name="Cost", value=f"${job.cost:.4f}")
    if files:
        embed.set_image(url=f"attachment://{files[0][0]}")
    notes = [f"⚠️ {note}" for note in job.origin.get("notes", ())]
    reencoded = any(f.reencoded or f.scaled for f in fitted)
    if reencoded:
        notes.append(
            "Re-encoded to fit Discord's upload limit; use Full resolution for the original."
        )
    if job.result_text and job.kind is not JobKind.DESCRIBE:
        notes.append(f"Model: {clip(job.result_text, 300)}")
    if notes:
        embed.set_footer(text=clip("\n".join(notes), 2048))
    if job.user_id:
        embed.add_field(name="Requested by", value=f"<@{job.user_id}>")
    return Payload(embeds=[embed], files=files, view=view, reencoded=reencoded)


def cost_shown(job: Job) -> str:
    """Who sees the cost on the result, as the server's rules said when the job was made: a
    private result is the requester's alone, so "requester" shows it there."""
    shown = job.origin.get("show_cost", "everyone")
    return "everyone" if shown == "requester" and job.origin.get("private") else shown


def error_payload(
    job: Job | None,
    error: EaselError,
    *,
    prompt: str | None = None,
    view: discord.ui.View | None = None,
) -> Payload:
    """A friendly failure that always shows the prompt back and offers a way to retry."""
    text = prompt if prompt is not None else (job.prompt if job else "")
    embed = discord.Embed(
        title="Couldn't finish that", description=error.user_message, colour=ERROR_COLOUR
    )
    if isinstance(error, RateLimited) and error.retry_after:
        embed.description = f"{error.user_message}"
    if text:
        embed.add_field(name="Your prompt was", value=clip(text, 1000), inline=False)
    hint = (
        "Press Retry to try again" if error.retryable else "Edit the prompt or pick another model"
    )
    if job is not None:
        embed.set_footer(text=f"{hint} · job {job.id}")
    return Payload(embeds=[embed], view=view)


def full_resolution_text(sent: bool, too_big: list[str], limit: int, job_id: int) -> str:
    """What Full resolution says about the originals it could and couldn't attach."""
    text = "Here are the originals." if sent else ""
    if too_big:
        text += (
            f"\n{'; '.join(too_big)}, over this server's {limit / 2**20:.0f} MB upload "
            "limit, so Discord can't carry the original. The copy above is the largest "
            "that fits; the bot's owner can find the original in its data folder "
            f"(job {job_id})."
        )
    return text.strip()


def lineage_text(chain: list[Job], catalog: Catalog, guild_id: int | None) -> str:
    """Newest first: each job's prompt, model, inputs and the message its images came from."""
    if not chain:
        return "I can't find where this image came from."
    lines = []
    for depth, job in enumerate(chain):
        head = "This image" if depth == 0 else "↳ from"
        inputs = len(job.input_images)
        parts = [
            f"{head}: **job {job.id}** ({_kind(job)}, {catalog.get(job.spec.model).label})",
            f"“{clip(job.prompt, 300)}”",
        ]
        if inputs:
            mask = " and a mask" if job.mask_image else ""
            parts.append(f"{inputs} input image{'s' if inputs != 1 else ''}{mask}")
        source = job.origin.get("source_message")
        if source:
            place = guild_id or "@me"
            link = (
                f"https://discord.com/channels/{place}/{job.origin.get('source_channel')}/{source}"
            )
            parts.append(f"images from {link}")
        lines.append(" · ".join(parts))
    return clip("\n".join(lines), 2000)


def _described(job: Job) -> str | None:
    """A /describe result: its prompts, numbered as its buttons are."""
    if job.kind is not JobKind.DESCRIBE:
        return None
    found = describe.prompts(job.result_text)
    return (
        "\n".join(f"**{i}.** {p}" for i, p in enumerate(found, start=1)) or "No prompts came back."
    )


LABELS = {
    **ACTIONS,
    "blend": "Blend",
    "references": "imagine with references",
    "compare": "compare",
}


def _kind(job: Job) -> str:
    """The job's kind, or the action it went on from its parent with (Zoom out 2×, …)."""
    action = job.origin.get("action")
    return LABELS.get(action, job.kind.value) if isinstance(action, str) else job.kind.value


def _sizes(fitted: list[fitting.FittedImage], job: Job) -> str:
    if not fitted:
        return "-"
    first = fitted[0]
    text = f"{first.width}×{first.height}"
    spec = job.spec
    extra = [v for v in (spec.aspect_ratio, spec.resolution, spec.quality) if v]
    return f"{text} ({', '.join(extra)})" if extra else text


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
