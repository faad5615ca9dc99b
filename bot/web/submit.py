"""A painted edit: the mask and prompt checked against the link, then the edit job created
through ``ImageService.submit_edit`` (so the queue, the rules and the budgets apply) and handed
to the front end's ``launch``, which queues it and posts the result as a reply in Discord."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import images, masks, media
from bot.domain import ImageSpec, Job, JobStatus
from bot.errors import EaselError, InputError, InvalidOption, MaskMismatch, UnsupportedImageType
from bot.inputs import RawImage
from bot.service import ImageService
from bot.storage import PaintLink
from bot.web.links import Painting

Launch = Callable[[Job], Awaitable[None]]
Positions = Callable[[], dict[int, int]]
MAX_PROMPT = 4000


@dataclass(frozen=True)
class PaintForm:
    """What the page posted: the prompt, the model and the mask with its declared type."""

    prompt: str
    model: str
    mask: bytes
    mask_type: str


class PaintSubmit:
    """Turns a posted form into a queued edit job, once per link."""

    def __init__(
        self,
        painting: Painting,
        service: ImageService,
        launch: Launch,
        positions: Positions | None = None,
    ) -> None:
        self.painting, self.service, self.launch = painting, service, launch
        self.positions = positions or dict

    async def submit(self, link: PaintLink, form: PaintForm, now: datetime) -> Job:
        """Check everything that can be checked, take the link's use, then store and queue."""
        prompt = form.prompt.strip()
        if not prompt:
            raise InvalidOption("Write what should appear in the painted area.")
        if len(prompt) > MAX_PROMPT:
            raise InvalidOption(f"Keep the prompt under {MAX_PROMPT} characters.")
        if form.model not in {model.id for model in self.painting.models()}:
            raise InvalidOption("Pick one of the models in the list.")
        if form.mask_type != media.PNG:
            raise UnsupportedImageType("The mask must be sent as a PNG image.")
        image = await self.service.store.get_image(link.image)
        await asyncio.to_thread(check_mask, form.mask, image)
        await self.painting.use(link, now)
        model = self.service.catalog.get(form.model)
        spec = ImageSpec(model=model.id, input_fidelity="high" if model.input_fidelity else None)
        try:
            job = await self.service.submit_edit(
                prompt,
                [RawImage(image, "image.png")],
                spec,
                mask=RawImage(form.mask, "mask.png"),
                user_id=link.user_id,
                origin=link.origin,
                parent_job_id=link.job_id,
            )
        except EaselError:
            # Nothing was queued: the link is theirs again, to fix the form and send it.
            await self.service.store.release_paint_link(link.id)
            raise
        await self.service.store.set_paint_job(link.id, job.id)
        await self.launch(job)
        return job

    async def status(self, link: PaintLink) -> dict[str, Any]:
        """How the link's job is getting on, in words for the page."""
        job = await self.service.store.get_job(link.made_job_id or 0)
        if job is None:
            return {"state": "gone", "text": "That job is no longer kept."}
        return {"state": job.status.value, "text": status_text(job, self.positions().get(job.id))}


def status_text(job: Job, position: int | None) -> str:
    if job.status is JobStatus.QUEUED:
        place = f" (number {position})" if position else ""
        return f"Waiting in the queue{place}."
    if job.status is JobStatus.RUNNING:
        return "Painting it now…"
    if job.status is JobStatus.DONE:
        return "Done: the result is in Discord, as a reply to the image."
    if job.status is JobStatus.CANCELLED:
        return "The edit was cancelled."
    return (
        f"It didn't work: {job.error_message or 'no reason given'} Press Retry under it in Discord."
    )


def check_mask(mask: bytes, image: bytes) -> None:
    """A PNG the size of the image, with something painted (transparent) on it."""
    if images.sniff(mask) != media.PNG:
        raise UnsupportedImageType("The mask must be a PNG image.")
    got, want = images.identify(mask), images.identify(image)
    if (got.width, got.height) != (want.width, want.height):
        raise MaskMismatch(
            f"The mask is {got.width}×{got.height} but the image is {want.width}×{want.height}. "
            "Reload the page and paint again."
        )
    if not masks.has_transparency(mask):
        raise InputError("Nothing is painted yet: paint over the part you want changed.")
