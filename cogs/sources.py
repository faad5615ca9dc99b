"""Images in Discord messages: found in attachments and embeds, a forwarded message's copies
too, downloaded from Discord's CDN only, size-checked before and capped during the download,
with one re-fetch of the message when a signed link has expired."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import aiohttp
import discord

from bot import edits, images, masks
from bot.domain import Job, JobStatus
from bot.edits import ImageRef
from bot.errors import DownloadFailed, InputError, LinkExpired
from bot.inputs import RawImage
from cogs import links

if TYPE_CHECKING:
    from bot.app import EaselBot

log = logging.getLogger(__name__)

CDN_HOSTS = frozenset({"cdn.discordapp.com", "media.discordapp.net"})
CHUNK = 64 * 1024


@dataclass
class Gathered:
    """Everything an edit job needs from Discord, downloaded and checked."""

    inputs: list[RawImage]
    mask: RawImage | None = None
    notes: list[str] = field(default_factory=list)
    parent_job_id: int | None = None


def cdn_hosts(api_base: str | None) -> frozenset[str]:
    """Discord's CDN hosts, plus the API host when Discord is proxied (or faked in tests)."""
    extra = {urlsplit(api_base).netloc} if api_base else set()
    return CDN_HOSTS | extra


def image_refs(message: discord.Message, hosts: frozenset[str]) -> list[ImageRef]:
    """Image attachments, then embed images that are not those same attachments; then the same
    for each forwarded copy, keyed under the forwarding message, the one a re-fetch can renew."""
    refs: list[ImageRef] = []
    seen: set[str] = set()
    _add_refs(refs, seen, str(message.id), message.attachments, message.embeds, hosts)
    for number, snapshot in enumerate(message.message_snapshots):
        prefix = f"{message.id}:fwd{number}"
        _add_refs(refs, seen, prefix, snapshot.attachments, snapshot.embeds, hosts)
    return refs


def _add_refs(
    refs: list[ImageRef],
    seen: set[str],
    prefix: str,
    attachments: Sequence[discord.Attachment],
    embeds: Sequence[discord.Embed],
    hosts: frozenset[str],
) -> None:
    for attachment in attachments:
        if edits.is_image_file(attachment.filename, attachment.content_type):
            key = f"{prefix}:{attachment.id}"
            refs.append(ImageRef(key, attachment.filename, attachment.url, attachment.size))
            seen.add(_media_path(attachment.url))
    for index, embed in enumerate(embeds):
        candidates = (embed.image.url, embed.image.proxy_url)
        url = next((u for u in candidates if u and urlsplit(u).netloc in hosts), None)
        if url is None or _media_path(url) in seen:
            continue
        seen.add(_media_path(url))
        name = unquote(PurePosixPath(urlsplit(url).path).name) or f"embed-{index + 1}.png"
        refs.append(ImageRef(f"{prefix}:embed:{index}", name, url))


def _media_path(url: str) -> str:
    # The proxy serves the same file under /media on some hosts; compare without it.
    return urlsplit(url).path.removeprefix("/media")


class Sources:
    """Downloads message images for edits; owns one aiohttp session."""

    def __init__(self, bot: EaselBot) -> None:
        self.bot = bot
        self.hosts = cdn_hosts(bot.settings.discord_api_base)
        self.max_bytes = bot.settings.max_input_bytes
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def refs(self, message: discord.Message) -> list[ImageRef]:
        return image_refs(message, self.hosts)

    async def parent_job(self, message: discord.Message) -> Job | None:
        job_id = links.job_id_of(message, self.bot.user.id if self.bot.user else None)
        job = await self.bot.service.store.get_job(job_id) if job_id else None
        return job if job is not None and job.status is JobStatus.DONE else None

    async def gather(
        self,
        target: discord.Message,
        extra: Sequence[discord.Message] = (),
        *,
        mask_upload: discord.Attachment | None = None,
        region: str | None = None,
        text: str = "",
    ) -> Gathered:
        """Download and check the target's images (and extra messages' own), plus the mask."""
        owners = {m.id: m for m in (target, *extra)}
        extra_refs = [r for m in extra for r in self.refs(m)]
        chosen = edits.select(self.refs(target), extra_refs)
        if not chosen.inputs:
            raise InputError(
                "There's no image in that message to edit. Reply to a message with an image "
                "attached, or attach one to your reply."
            )
        upload = None
        if mask_upload is not None:
            upload = ImageRef("upload", mask_upload.filename, mask_upload.url, mask_upload.size)
        to_fetch = [*chosen.inputs, *(r for r in (chosen.mask, upload) if r is not None)]
        for ref in to_fetch:  # every size Discord told us, before a single byte is downloaded
            edits.check_size(ref, self.max_bytes)
        parent = await self.parent_job(target)
        gathered = Gathered(
            [], notes=list(chosen.notes), parent_job_id=parent.id if parent else None
        )
        for ref in chosen.inputs:
            data = await self._fetch(ref, owners)
            gathered.inputs.append(RawImage(data, ref.name))
        gathered.mask = await self._mask(gathered, chosen.mask or upload, owners, region, text)
        return gathered

    async def _mask(
        self,
        gathered: Gathered,
        ref: ImageRef | None,
        owners: dict[int, discord.Message],
        region: str | None,
        text: str,
    ) -> RawImage | None:
        first = gathered.inputs[0].data
        if ref is not None:
            if region:
                gathered.notes.append(f"I used your mask file, not the {region} region.")
            return RawImage(await self._fetch(ref, owners), ref.name)
        if region:
            info = await asyncio.to_thread(images.identify, first)
            data = await asyncio.to_thread(masks.region_mask, (info.width, info.height), region)
            return RawImage(data, f"mask-{region}.png")
        if edits.wants_alpha_mask(text) and await asyncio.to_thread(masks.has_transparency, first):
            gathered.notes.append("The transparent part of the first image is the area I edited.")
            return RawImage(first, "mask.png")
        return None

    async def uploads(self, attachments: Sequence[discord.Attachment | None]) -> list[RawImage]:
        """A command's image options, downloaded in order; sizes checked before any download."""
        refs = [
            ImageRef(f"upload:{index}", a.filename, a.url, a.size)
            for index, a in enumerate(attachments)
            if a is not None
        ]
        for ref in refs:
            edits.check_size(ref, self.max_bytes)
        return [RawImage(await self.download(ref), ref.name) for ref in refs]

    async def _fetch(self, ref: ImageRef, owners: dict[int, discord.Message]) -> bytes:
        """Download; on an expired link, fetch the message again for a fresh one, once."""
        try:
            return await self.download(ref)
        except LinkExpired:
            owner = owners.get(int(ref.key.split(":")[0])) if ref.key[0].isdigit() else None
            if owner is None:
                raise
        log.info("link to %s expired; fetching message %s again", ref.name, owner.id)
        try:
            fresh = await owner.channel.fetch_message(owner.id)
        except discord.HTTPException as exc:
            raise LinkExpired(
                f"The link to {ref.name} has expired and the message is gone. Post the image again."
            ) from exc
        renewed = next((r for r in self.refs(fresh) if r.key == ref.key), None)
        if renewed is None:
            raise LinkExpired(f"{ref.name} is no longer in that message. Post the image again.")
        return await self.download(renewed)

    async def download(self, ref: ImageRef) -> bytes:
        """Stream from Discord's CDN, stopping as soon as the byte cap is passed."""
        if urlsplit(ref.url).netloc not in self.hosts:
            raise DownloadFailed(f"I only download images from Discord, and {ref.name} isn't.")
        edits.check_size(ref, self.max_bytes)
        session = self._session or self._open()
        try:
            async with session.get(ref.url, allow_redirects=False) as response:
                if response.status in (403, 404, 410):
                    raise LinkExpired(f"The link to {ref.name} has expired. Post it again.")
                if response.status != 200:
                    raise DownloadFailed(
                        f"Discord's CDN answered {response.status} for {ref.name}. "
                        "Try again in a moment."
                    )
                if (response.content_length or 0) > self.max_bytes:
                    raise edits.too_large(ref.name, response.content_length, self.max_bytes)
                return await self._read_capped(response.content.iter_chunked(CHUNK), ref)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DownloadFailed(
                f"I couldn't download {ref.name} from Discord. Try again in a moment."
            ) from exc

    async def _read_capped(self, chunks: AsyncIterator[bytes], ref: ImageRef) -> bytes:
        buffer = bytearray()
        async for chunk in chunks:
            buffer += chunk
            if len(buffer) > self.max_bytes:
                raise edits.too_large(ref.name, None, self.max_bytes)
        return bytes(buffer)

    def _open(self) -> aiohttp.ClientSession:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        return self._session
