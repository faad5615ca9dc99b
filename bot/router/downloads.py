"""Downloads of ``url`` answers: the reference check, the origin, redirects, the size cap, statuses."""

from __future__ import annotations

import asyncio

import httpx

from bot import offload, spool
from bot.errors import BadResponse, RouterUnavailable
from bot.router import decoding, failures, hosts

DOWNLOAD_FAILED = "The image service's download link for the result didn't work."


def origin(url: str) -> hosts.Origin:
    """Scheme, host and port as httpx will connect to them (IDNA-encoded, so ASCII)."""
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.raw_host.decode("ascii"), parsed.port


def url_origin(url: str) -> hosts.Origin:
    """The origin of an http(s) image reference; BadResponse when it is not a usable URL."""
    try:
        if not url.startswith(("https://", "http://")):
            raise ValueError("not http(s)")
        found = origin(url)
        if not found[1]:
            raise ValueError("no host")
    except (ValueError, httpx.InvalidURL) as exc:  # UnicodeDecodeError is a ValueError
        raise BadResponse(
            decoding.UNREADABLE, detail="the image reference is not a usable URL"
        ) from exc
    return found


def checked_download(
    response: httpx.Response, body: bytes | spool.Spooled, host: str
) -> bytes | spool.Spooled:
    """The body of a download; Transient for a retried status, BadResponse for any other failure."""
    status = response.status_code
    if status in failures.RETRY_STATUSES:
        error = RouterUnavailable(detail=f"HTTP {status} downloading from {host}", status=status)
        raise failures.Transient(error, failures.parse_retry_after(response.headers))
    if not response.is_success:
        raise BadResponse(
            DOWNLOAD_FAILED, detail=f"HTTP {status} downloading from {host}", status=status
        )
    return body


def redirect_target(response: httpx.Response) -> str | None:
    """Where a redirect points (resolved against the request's URL); None when it is no redirect."""
    following = response.next_request
    return None if following is None else str(following.url)


def too_many_redirects(host: str) -> BadResponse:
    return BadResponse(
        DOWNLOAD_FAILED, detail=f"more than {hosts.MAX_REDIRECTS} redirects from {host}"
    )


async def read_capped(
    response: httpx.Response, cap: int, spooled: bool = False
) -> bytes | spool.Spooled:
    """The body, at most ``cap`` bytes. With ``spooled``, one large enough for a worker process
    (``offload.offloads``) goes to a spool file as it arrives: the bot never holds it whole."""
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > cap:
        raise _too_large(cap, response.status_code)
    chunks: list[bytes] = []
    total = 0
    writer: spool.Writer | None = None
    try:
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if total > cap:
                raise _too_large(cap, response.status_code)
            if writer is None and spooled and offload.offloads(total):
                writer = await spool.Writer.open()  # large: what came so far, then the rest
                for early in chunks:
                    await writer.add(early)
                chunks = []
            if writer is not None:
                await writer.add(chunk)
            else:
                chunks.append(chunk)
        if writer is not None:
            return await writer.finish()
    except BaseException:
        if writer is not None:
            await asyncio.shield(writer.discard())
        raise
    if total > decoding.LARGE_ANSWER:  # copying 40 MB takes the loop thread ~10 ms; bytes.join
        return await asyncio.to_thread(b"".join, chunks)  # lets go of the GIL meanwhile
    return b"".join(chunks)


def _too_large(cap: int, status: int) -> BadResponse:
    return BadResponse(
        "The image service sent back a result that is too large.",
        detail=f"answer over {cap} bytes",
        status=status,
    )
