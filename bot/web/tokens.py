"""Signed paint tokens: an HMAC (itsdangerous) over the link id, the user and the image, with a
timestamp checked against a 15-minute lifetime. The signature is checked before the store is
asked anything, so a forged token costs one HMAC."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from bot.errors import EaselError

LIFETIME_S = 15 * 60
SALT = "easel.paint"
SECRET_NAME = "web"  # the store's name for the generated key, when WEB_SECRET is unset


class PaintLinkRefused(EaselError):
    """A paint link that can't be used; the page says why and what to do."""

    code = "paint_link"
    status = 400
    title = "This link can't be used"


class PaintLinkForged(PaintLinkRefused):
    code, status, title = "paint_link_forged", 403, "This link isn't valid"


class PaintLinkExpired(PaintLinkRefused):
    code, status, title = "paint_link_expired", 410, "This link has expired"


class PaintLinkUsed(PaintLinkRefused):
    code, status, title = "paint_link_used", 410, "This link was already used"


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says: which link, whose, and which image."""

    link_id: str
    user_id: str
    image: str


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def new_link_id() -> str:
    return secrets.token_urlsafe(16)  # 22 characters, within the column's 32


class PaintTokens:
    """Signs and reads paint tokens with one key."""

    def __init__(self, secret: str, lifetime: int = LIFETIME_S) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT)
        self.lifetime = lifetime

    def sign(self, claims: TokenClaims) -> str:
        return str(
            self._serializer.dumps({"l": claims.link_id, "u": claims.user_id, "i": claims.image})
        )

    def read(self, token: str, *, lifetime: int | None = None) -> TokenClaims:
        """The claims of a token this key signed and that is younger than ``lifetime``."""
        try:
            data: Any = self._serializer.loads(token, max_age=int(lifetime or self.lifetime))
        except SignatureExpired:
            raise PaintLinkExpired(EXPIRED) from None
        except BadSignature:
            raise PaintLinkForged(FORGED) from None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in "lui"):
            raise PaintLinkForged(FORGED)
        return TokenClaims(data["l"], data["u"], data["i"])


AGAIN = "Press 🖌️ Paint a region under the image in Discord for a new link."
EXPIRED = f"Paint links work for 15 minutes. {AGAIN}"
FORGED = f"This address isn't a paint link I made; check you copied all of it. {AGAIN}"
USED = f"Each paint link sends one edit, and this one has been sent. {AGAIN}"
