"""The paint page's routes, added to the health endpoint's aiohttp app:

- ``GET /paint/<token>``: the page (static HTML; its script reads the rest), or a page that says
  why the link can't be used;
- ``GET /paint/<token>/info`` and ``/image``: the prompt, the models and the image to paint on;
- ``POST /paint/<token>``: the mask and the prompt (``bot.web.submit``);
- ``GET /paint/<token>/status``: the job's progress, for the page to poll;
- ``GET /paint/static/<name>``: the script and the style sheet.

Every response carries a strict CSP (nothing but this origin), no referrer (the token is in the
address) and no caching.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import resources

from aiohttp import BodyPartReader, web

from bot import media
from bot.config import Settings
from bot.errors import EaselError, ImageTooLarge
from bot.service import ImageService
from bot.web.links import Painting
from bot.web.submit import Launch, PaintForm, PaintSubmit, Positions
from bot.web.tokens import PaintLinkRefused

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
STATIC = {"paint.js": "text/javascript", "paint.css": "text/css"}
TOKEN = r"{token:[A-Za-z0-9_.\-]{20,400}}"  # itsdangerous's URL-safe form
MAX_BODY = 40 * 1024 * 1024  # a painted mask of a 50-megapixel image, with room to spare
MAX_FIELD = 64 * 1024  # the prompt and the model
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _static(name: str) -> str:
    return resources.files("bot.web").joinpath("static", name).read_text(encoding="utf-8")


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if request.path.startswith("/paint/"):
        response.headers.update(HEADERS)
    return response


async def open_paint(
    settings: Settings, service: ImageService, launch: Launch, positions: Positions
) -> PaintRoutes:
    """The paint page's links and routes, from the settings (PUBLIC_URL must be set)."""
    assert settings.public_url is not None
    secret = settings.web_secret.get_secret_value() if settings.web_secret else None
    painting = await Painting.open(
        service.store,
        service.catalog,
        secret=secret,
        public_url=settings.public_url,
        edit_model=settings.edit_model,
    )
    return PaintRoutes(painting, PaintSubmit(painting, service, launch, positions))


class PaintRoutes:
    """The paint page, over ``Painting`` (the links) and ``PaintSubmit`` (the edit)."""

    def __init__(self, painting: Painting, submitter: PaintSubmit) -> None:
        self.painting, self.submitter = painting, submitter
        self.files = {name: _static(name) for name in STATIC}
        self.page_html = _static("paint.html")
        self.refusal_html = _static("refused.html")

    def add_to(self, app: web.Application) -> None:
        app.middlewares.append(security_headers)
        app.router.add_get("/paint/static/{name}", self.static)
        app.router.add_get(f"/paint/{TOKEN}", self.page)
        app.router.add_post(f"/paint/{TOKEN}", self.submit)
        app.router.add_get(f"/paint/{TOKEN}/info", self.info)
        app.router.add_get(f"/paint/{TOKEN}/image", self.image)
        app.router.add_get(f"/paint/{TOKEN}/status", self.status)

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.files:
            raise web.HTTPNotFound()
        return web.Response(text=self.files[name], content_type=STATIC[name])

    async def page(self, request: web.Request) -> web.Response:
        try:
            await self.painting.check(request.match_info["token"], _now())
        except EaselError as exc:
            return self.refused(exc)
        return web.Response(text=self.page_html, content_type="text/html")

    def refused(self, exc: EaselError) -> web.Response:
        title = getattr(exc, "title", "This link can't be used")
        body = self.refusal_html.replace("{title}", html.escape(title)).replace(
            "{message}", html.escape(exc.user_message)
        )
        return web.Response(text=body, content_type="text/html", status=_status(exc))

    async def info(self, request: web.Request) -> web.Response:
        try:
            link = await self.painting.check(request.match_info["token"], _now())
        except EaselError as exc:
            return _json_error(exc)
        info = await self.painting.store.image_info(link.image)
        models = [{"id": m.id, "label": m.label} for m in self.painting.models()]
        return web.json_response(
            {
                "prompt": link.prompt,
                "model": link.model,
                "models": models,
                "width": info.width if info else None,
                "height": info.height if info else None,
            }
        )

    async def image(self, request: web.Request) -> web.Response:
        try:
            link = await self.painting.check(request.match_info["token"], _now())
            data = await self.painting.store.get_image(link.image)
        except EaselError as exc:
            return _json_error(exc)
        info = await self.painting.store.image_info(link.image)
        return web.Response(body=data, content_type=info.mime if info else media.PNG)

    async def submit(self, request: web.Request) -> web.Response:
        try:
            link = await self.painting.check(request.match_info["token"], _now())
            form = await read_form(request)
            job = await self.submitter.submit(link, form, _now())
        except EaselError as exc:
            return _json_error(exc)
        log.info("paint link made job %d", job.id)
        return web.json_response({"job": job.id, "text": "Sent: look in Discord."})

    async def status(self, request: web.Request) -> web.Response:
        try:
            link = await self.painting.check(request.match_info["token"], _now(), for_status=True)
            return web.json_response(await self.submitter.status(link))
        except EaselError as exc:
            return _json_error(exc)


async def read_form(request: web.Request) -> PaintForm:
    """The multipart form: ``prompt``, ``model`` and ``mask`` (a file), each read with a cap."""
    if not request.content_type.startswith("multipart/"):
        raise PaintLinkRefused("Send the form from the paint page.")
    fields: dict[str, bytes] = {}
    mask_type = ""
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name not in ("prompt", "model", "mask"):
            continue
        if part.name == "mask":
            mask_type = part.headers.get("Content-Type", "")
        fields[part.name] = await _capped(part, MAX_BODY if part.name == "mask" else MAX_FIELD)
    if "mask" not in fields:
        raise PaintLinkRefused("The form had no mask: paint on the image, then press Send.")
    return PaintForm(
        prompt=fields.get("prompt", b"").decode("utf-8", "replace"),
        model=fields.get("model", b"").decode("utf-8", "replace"),
        mask=fields["mask"],
        mask_type=mask_type.split(";")[0].strip().lower(),
    )


async def _capped(part: BodyPartReader, limit: int) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk():
        data += chunk
        if len(data) > limit:
            raise ImageTooLarge("That's too much to send; reload the page and try again.")
    return bytes(data)


def _status(exc: EaselError) -> int:
    status = getattr(exc, "status", None)
    return status if isinstance(status, int) else 400


def _json_error(exc: EaselError) -> web.Response:
    title = getattr(exc, "title", "That didn't work")
    body = {"error": exc.user_message, "title": title, "code": exc.code}
    return web.json_response(body, status=_status(exc))


def _now() -> datetime:
    return datetime.now(UTC)
