"""Image media types without Pillow: MIME names, file extensions and data URLs.

The one place a MIME type becomes a file extension or a ``data:`` URL, so the router, the
conversation builder, the store and the front ends can't disagree.
"""

from __future__ import annotations

import base64

from bot.domain import InputImage

PNG = "image/png"
JPEG = "image/jpeg"
WEBP = "image/webp"
GIF = "image/gif"

_EXTENSIONS = {PNG: "png", JPEG: "jpg", WEBP: "webp", GIF: "gif"}


def extension(mime: str) -> str:
    """``jpg`` for ``image/jpeg``; an unknown type is saved as PNG, the router's default."""
    return _EXTENSIONS.get(mime, "png")


def data_url(image: InputImage) -> str:
    """``data:<mime>;base64,…``, the form chat models and JSON edits take images in."""
    return f"data:{image.mime};base64,{base64.b64encode(image.data).decode('ascii')}"
