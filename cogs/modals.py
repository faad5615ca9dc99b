"""The two forms: Remix (a result's prompt, model or shape changed, run as a new job) and Edit
image (an instruction, a model and an optional mask or region for a message's images). Each
form only reads what was typed; the cog or the service decides what it means."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import discord

from bot.catalog import Catalog
from bot.domain import ApiFamily, ImageSpec, Job
from bot.errors import InvalidOption
from cogs import links
from cogs.replies import EaselModal

PAINT_LABEL = "🖌️ Paint it in the browser (sends you a link)"  # with PUBLIC_URL (cogs.paint)
REGION_LABELS = {
    "none": "No region (whole image, or my mask file)",
    "left": "Left half",
    "right": "Right half",
    "top": "Top half",
    "bottom": "Bottom half",
    "center": "Centre",
    "border": "Border",
}


class RemixModal(EaselModal):
    """A new prompt, model or shape for a job, run as a new job."""

    def __init__(self, catalog: Catalog, job: Job) -> None:
        super().__init__(
            title="Remix: change and run again", timeout=None, custom_id=f"easel:remix:{job.id}"
        )
        self.catalog, self.job = catalog, job
        spec = job.spec
        chat = catalog.get(spec.model).family is ApiFamily.CHAT
        self.prompt = _text("Prompt", job.prompt[:4000], 4000, paragraph=True, required=True)
        self.model = model_select(catalog, spec.model)
        self.shape = _text("Aspect ratio or size", (spec.aspect_ratio if chat else spec.size), 20)
        self.shape.placeholder = "16:9, 1:1 … or 1536x1024"
        self.tier = _text("Resolution (1K/2K/4K) or quality", spec.resolution or spec.quality, 10)
        self.count = _text("Number of images (1-10)", str(spec.n), 2, required=True)
        model = discord.ui.Label(text="Model", component=self.model)  # a select needs a Label
        for item in (self.prompt, model, self.shape, self.tier, self.count):
            self.add_item(item)

    def prompt_text(self) -> str | None:
        return self.prompt.value

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        client: Any = interaction.client
        private = bool(self.job.origin.get("private"))
        await interaction.response.defer(thinking=True, ephemeral=private)
        spec = spec_from_text(
            self.catalog,
            (self.model.values or [self.job.spec.model])[0],
            self.shape.value.strip(),
            self.tier.value.strip(),
            self.count.value.strip(),
            base=self.job.params,
        )
        job = await client.service.submit_variant(
            self.job,
            self.prompt.value,
            spec,
            origin=links.interaction_origin(interaction, private=private),
            user_id=str(interaction.user.id),
            sees=links.sees(interaction.guild, interaction.user),
        )
        await client.delivery.launch(job)


def model_select(catalog: Catalog, current: str) -> discord.ui.Select[Any]:
    """The models to choose from (Discord shows 25 at most), the current one chosen."""
    models = list(catalog)
    chosen = [m for m in models if m.id == current]
    models = (chosen + [m for m in models if m.id != current])[:25]
    return discord.ui.Select(
        custom_id="model",
        required=False,
        min_values=0,
        max_values=1,
        options=[
            discord.SelectOption(
                label=m.label[:100],
                value=m.id[:100],
                description=f"{m.family.value} API"[:100],
                default=m.id == current,
            )
            for m in models
        ],
    )


def _text(
    label: str,
    default: str | None,
    max_length: int,
    *,
    paragraph: bool = False,
    required: bool = False,
) -> discord.ui.TextInput[Any]:
    return discord.ui.TextInput(
        label=label,
        style=discord.TextStyle.paragraph if paragraph else discord.TextStyle.short,
        default=default or "",
        max_length=max_length,
        required=required,
    )


def spec_from_text(
    catalog: Catalog, model_id: str, shape: str, tier: str, count: str, base: dict[str, Any]
) -> ImageSpec:
    """Turn the form's free text into an ImageSpec; the service names the allowed values."""
    model = catalog.get(model_id)
    params = {
        k: v for k, v in base.items() if k in ("background", "output_format", "input_fidelity")
    }
    try:
        n = int(count or 1)
    except ValueError:
        raise InvalidOption("The number of images must be a whole number from 1 to 10.") from None
    if model.family is ApiFamily.CHAT:
        params.update(aspect_ratio=shape or None, resolution=tier.upper() or None)
    else:
        params.update(size=shape or None, quality=tier.lower() or None)
    return ImageSpec(model=model.id, n=n, **{k: v for k, v in params.items() if v})


@dataclass(frozen=True)
class EditForm:
    """What the Edit image form was given."""

    instruction: str
    model: str
    mask: discord.Attachment | None
    region: str
    preview: bool


FormHandler = Callable[[discord.Interaction[Any], discord.Message, EditForm], Awaitable[None]]


class EditImageModal(EaselModal):
    """Instruction, model, optional mask file or region, and whether to preview the mask."""

    def __init__(
        self,
        catalog: Catalog,
        target: discord.Message,
        model: str,
        handler: FormHandler,
        *,
        paint: bool = False,
    ) -> None:
        super().__init__(title="Edit image", timeout=None, custom_id=f"easel:editform:{target.id}")
        self.target, self.handler = target, handler
        self.instruction: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id="instruction", style=discord.TextStyle.paragraph, max_length=4000
        )
        self.model = model_select(catalog, model)
        # Explicit bounds: Discord reads a missing min_values as 1, which would make it required.
        self.mask: discord.ui.FileUpload[Any] = discord.ui.FileUpload(
            custom_id="mask", required=False, min_values=0, max_values=1
        )
        self.region: discord.ui.Select[Any] = discord.ui.Select(
            custom_id="region",
            required=False,
            options=[discord.SelectOption(label=v, value=k) for k, v in REGION_LABELS.items()]
            + ([discord.SelectOption(label=PAINT_LABEL, value="paint")] if paint else []),
        )
        self.preview: discord.ui.Select[Any] = discord.ui.Select(
            custom_id="preview",
            required=False,
            options=[
                discord.SelectOption(label="No, edit straight away", value="no", default=True),
                discord.SelectOption(label="Yes, show me the masked area first", value="yes"),
            ],
        )
        for text, item, hint in (
            ("What should change?", self.instruction, None),
            ("Model", self.model, None),
            ("Mask (optional)", self.mask, "Transparent or white = the area to edit"),
            ("Or edit only a region", self.region, None),
            ("Preview the mask first?", self.preview, None),
        ):
            self.add_item(discord.ui.Label(text=text, component=item, description=hint))

    def prompt_text(self) -> str | None:
        return self.instruction.value

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        uploads = self.mask.values
        form = EditForm(
            instruction=self.instruction.value,
            model=self.model.values[0] if self.model.values else "",
            mask=uploads[0] if uploads else None,
            region=self.region.values[0] if self.region.values else "none",
            preview=self.preview.values == ["yes"],
        )
        await self.handler(interaction, self.target, form)
