"""Paint links: made for a user and an image (a result of theirs, or any image they chose in the
Edit image form), signed, stored for their one use, and read back by the page. The front end
gives the edit's origin (where the result is posted), so this module knows no Discord."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot import images
from bot.catalog import Catalog, ModelInfo
from bot.errors import NotFound
from bot.inputs import Limits
from bot.storage import PaintLink, Store
from bot.web.tokens import (
    EXPIRED,
    FORGED,
    SECRET_NAME,
    USED,
    PaintLinkExpired,
    PaintLinkForged,
    PaintLinkUsed,
    PaintTokens,
    TokenClaims,
    new_link_id,
    new_secret,
)

STATUS_LIFETIME_S = 24 * 3600  # the page may follow its job's progress long after the link


@dataclass(frozen=True)
class PaintRequest:
    """What a link is for: who paints, on which stored image, and where the edit goes."""

    user_id: str
    image: str  # sha256 of a stored image
    prompt: str
    model: str
    origin: dict[str, Any]
    job_id: int | None = None  # the result being painted on, if it is one of Easel's


class Painting:
    """Makes and checks paint links; the page's routes (``bot.web.paint``) use it."""

    def __init__(
        self, store: Store, catalog: Catalog, tokens: PaintTokens, public_url: str, edit_model: str
    ) -> None:
        self.store, self.catalog, self.tokens = store, catalog, tokens
        self.public_url = public_url.rstrip("/")
        self.edit_model = edit_model

    @classmethod
    async def open(
        cls, store: Store, catalog: Catalog, *, secret: str | None, public_url: str, edit_model: str
    ) -> Painting:
        """With WEB_SECRET, or else the key the store keeps (made by the first process)."""
        key = secret or await store.web_secret(SECRET_NAME, new_secret())
        return cls(store, catalog, PaintTokens(key), public_url, edit_model)

    async def link(self, request: PaintRequest, now: datetime) -> str:
        """A new link, ``PUBLIC_URL/paint/<token>``, good for one use within 15 minutes."""
        link = PaintLink(
            id=new_link_id(),
            user_id=request.user_id,
            job_id=request.job_id,
            image=request.image,
            prompt=request.prompt[:4000],
            model=self.model_for(request.model).id,
            origin={**request.origin, "paint": True},
            created_at=now,
            expires_at=now + timedelta(seconds=self.tokens.lifetime),
            used_at=None,
            made_job_id=None,
        )
        await self.store.create_paint_link(link)
        token = self.tokens.sign(TokenClaims(link.id, link.user_id, link.image))
        return f"{self.public_url}/paint/{token}"

    async def check(self, token: str, now: datetime, *, for_status: bool = False) -> PaintLink:
        """The link a token names: signed by us, for its own user and image, live and unused."""
        lifetime = STATUS_LIFETIME_S if for_status else None
        claims = self.tokens.read(token, lifetime=lifetime)
        link = await self.store.paint_link(claims.link_id)
        if link is None or (link.user_id, link.image) != (claims.user_id, claims.image):
            raise PaintLinkForged(FORGED)
        if for_status:
            if link.made_job_id is None:
                raise NotFound("Nothing was sent with this link yet.")
            return link
        if link.used_at is not None:
            raise PaintLinkUsed(USED)
        if link.expires_at <= now:
            raise PaintLinkExpired(EXPIRED)
        return link

    async def use(self, link: PaintLink, now: datetime) -> None:
        """Take the link's one use, or say why it's gone (another tab, or the clock, was first)."""
        if not await self.store.use_paint_link(link.id, now):
            raise PaintLinkExpired(EXPIRED) if link.expires_at <= now else PaintLinkUsed(USED)

    async def keep_image(self, data: bytes, limits: Limits) -> str:
        """Check an image from Discord (any message's) and store it to paint on; its hash."""
        info = await asyncio.to_thread(
            images.validate_input,
            data,
            max_bytes=limits.max_input_bytes,
            max_pixels=limits.max_input_pixels,
        )
        stored = await self.store.put_image(data, info.mime, info.width, info.height)
        return stored.sha256

    def models(self) -> list[ModelInfo]:
        """The models a painted mask can go to."""
        return [model for model in self.catalog if model.supports_mask]

    def model_for(self, wanted: str | None) -> ModelInfo:
        """``wanted`` if it takes a mask, else EDIT_MODEL if it does, else the first that does."""
        allowed = {model.id: model for model in self.models()}
        if not allowed:
            raise NotFound("No model here can use a mask, so there's nothing to paint for.")
        for candidate in (wanted, self.edit_model):
            if candidate in allowed:
                return allowed[candidate]
        return next(iter(allowed.values()))
