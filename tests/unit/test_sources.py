"""``image_refs`` on discord.py's own objects built from payloads: what counts as an image, in
which order, and the keys a re-fetch renews links by, forwarded copies included."""

from __future__ import annotations

import warnings
from types import SimpleNamespace
from typing import Any

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord

from cogs.sources import CDN_HOSTS, image_refs

CDN = "https://cdn.discordapp.com"
STATE = SimpleNamespace(http=None)  # an Attachment keeps its state's HTTP client for read()


def attachment(id_: int, name: str = "a.png", content_type: str = "image/png") -> dict[str, Any]:
    url = f"{CDN}/attachments/1/{id_}/{name}?ex=1&is=0&hm=00&"
    return {
        "id": str(id_),
        "filename": name,
        "size": 100,
        "url": url,
        "proxy_url": url.replace(CDN, "https://media.discordapp.net"),
        "content_type": content_type,
    }


def image_embed(url: str) -> dict[str, Any]:
    return {"type": "image", "image": {"url": url}}


def message(id_, attachments=(), embeds=(), snapshots=()):
    """The parts of a ``discord.Message`` that ``image_refs`` reads, as discord.py parses them."""
    return SimpleNamespace(
        id=id_,
        attachments=[discord.Attachment(data=a, state=STATE) for a in attachments],
        embeds=[discord.Embed.from_dict(e) for e in embeds],
        message_snapshots=discord.MessageSnapshot._from_value(STATE, list(snapshots)),
    )


def snapshot(attachments, embeds=()):
    copy = {
        "type": 0,
        "content": "",
        "embeds": list(embeds),
        "attachments": attachments,
        "timestamp": "2025-01-01T00:00:00+00:00",
        "edited_timestamp": None,
        "flags": 0,
    }
    return {"message": copy}


def keys(msg) -> list[str]:
    return [ref.key for ref in image_refs(msg, CDN_HOSTS)]


def test_own_images_keep_their_keys():
    own = attachment(11)
    msg = message(
        5,
        [own, attachment(12, "notes.txt", "text/plain")],
        [
            image_embed(own["url"]),  # the attachment again: counted once
            image_embed(f"{CDN}/attachments/1/13/b.png"),
            image_embed("https://example.com/c.png"),  # not Discord's CDN
        ],
    )
    assert keys(msg) == ["5:11", "5:embed:1"]


def test_forwarded_images_are_keyed_under_the_forwarding_message():
    first, second = attachment(21), attachment(22, "b.jpg", "image/jpeg")
    copies = [
        snapshot([first], [image_embed(first["url"]), image_embed(f"{CDN}/x/23/c.png")]),
        snapshot([second]),
    ]
    msg = message(7, snapshots=copies)
    refs = image_refs(msg, CDN_HOSTS)
    assert [r.key for r in refs] == ["7:fwd0:21", "7:fwd0:embed:1", "7:fwd1:22"]
    assert [r.name for r in refs] == ["a.png", "c.png", "b.jpg"]
    assert refs[0].url == first["url"] and refs[0].size == 100
    # A fresh fetch of the forward signs its URLs again; the keys stay, so renewal finds them.
    resigned = [snapshot([{**first, "url": first["url"] + "new"}], copies[0]["message"]["embeds"])]
    assert keys(message(7, snapshots=[*resigned, copies[1]])) == keys(msg)


def test_own_and_forwarded_images_in_order_with_distinct_keys():
    same = attachment(31)
    msg = message(9, [same], snapshots=[snapshot([attachment(32)]), snapshot([attachment(32)])])
    assert keys(msg) == ["9:31", "9:fwd0:32", "9:fwd1:32"]
