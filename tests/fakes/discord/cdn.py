"""Attachment CDN with signed, expiring URLs (reference.mdx "Signed Attachment CDN URLs").

URLs look like Discord's: ``/attachments/{channel}/{id}/{name}?ex=<hex>&is=<hex>&hm=<hex>&``;
``proxy_url`` is the same under ``/media``. A bad or expired signature is a 404 with the
real CDN's text, so a bot that caches URLs instead of re-fetching the message finds out.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import mimetypes
import os
from typing import TYPE_CHECKING
from urllib.parse import quote

from aiohttp import web

if TYPE_CHECKING:
    from .model import Attachment, Clock

_MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
}


def sniff_content_type(filename: str, data: bytes) -> str | None:
    """Discord types uploads by extension; fall back to magic bytes for odd names."""
    guessed, _ = mimetypes.guess_type(filename)
    if guessed:
        return guessed
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((t for magic, t in _MAGIC.items() if data.startswith(magic)), None)


def image_size(content_type: str | None, data: bytes) -> tuple[int | None, int | None]:
    """Width and height for images, as Discord reports them; None when not decodable."""
    if not content_type or not content_type.startswith("image/"):
        return None, None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except Exception:
        return None, None


class Cdn:
    """Signs attachment URLs and serves attachment bytes."""

    def __init__(self, clock: Clock, lifetime: float) -> None:
        self._clock = clock
        self._secret = os.urandom(16)
        self.lifetime = lifetime
        self.base = ""  # set once the server has a port
        self.attachments: dict[int, Attachment] = {}
        self.downloads = 0

    def add(self, attachment: Attachment) -> None:
        self.attachments[attachment.id] = attachment

    def _sign(self, path: str, expires: int, issued: int) -> str:
        message = f"{path}:{expires:x}:{issued:x}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def _path(self, attachment: Attachment) -> str:
        return f"/attachments/{attachment.channel_id}/{attachment.id}/{quote(attachment.filename)}"

    def url(self, attachment: Attachment, *, proxy: bool = False) -> str:
        """A freshly signed URL; every message fetch gets new ones, like Discord."""
        path = self._path(attachment)
        issued = int(self._clock.now())
        expires = int(issued + self.lifetime)
        query = f"ex={expires:x}&is={issued:x}&hm={self._sign(path, expires, issued)}&"
        return f"{self.base}{'/media' if proxy else ''}{path}?{query}"

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/attachments/{channel}/{id}/{name}", self._serve),
            web.get("/media/attachments/{channel}/{id}/{name}", self._serve),
        ]

    async def _serve(self, request: web.Request) -> web.Response:
        gone = web.Response(status=404, text="This content is no longer available.")
        attachment = self.attachments.get(_int(request.match_info["id"]))
        if attachment is None or str(attachment.channel_id) != request.match_info["channel"]:
            return gone
        try:
            expires = int(request.query["ex"], 16)
            issued = int(request.query["is"], 16)
            signature = request.query["hm"]
        except (KeyError, ValueError):
            return gone
        expected = self._sign(self._path(attachment), expires, issued)
        if not hmac.compare_digest(signature, expected) or expires <= self._clock.now():
            return gone
        self.downloads += 1
        return web.Response(
            body=attachment.data, content_type=attachment.content_type or "application/octet-stream"
        )


def _int(text: str) -> int:
    return int(text) if text.isdigit() else -1
