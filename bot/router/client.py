"""RouterClient: image generation, edits and chat over one shared ``httpx.AsyncClient``.

With ``downloads``, the package's only module that imports httpx; every foreign failure is
mapped to ``bot.errors`` in this package (transport errors here, statuses and error bodies in
``failures``, download statuses and the size cap in ``downloads``, 200 answers in ``answers`` and
``decoding``); ``retries`` decides what is tried again::

    httpx.TimeoutException             -> RouterUnavailable "timed out"        retried
    an attempt over ``timeout`` in all -> RouterUnavailable "took longer"      retried
    other httpx.TransportError         -> RouterUnavailable "couldn't reach"   retried
    408 409 500 502 503 504 529        -> RouterUnavailable                    retried
    429                                -> RateLimited (retry_after)            retried
    400 moderation / content policy    -> Refused (never retried)
    401 403 / 402 412 / 404 / other    -> AuthFailed / OutOfCredit / ModelNotFound / BadRequest
    404 not about a model (no /v1)     -> RouterPathNotFound
    200 not JSON, bad base64 or image  -> BadResponse  } not retried: the call may have been
    200 without an image               -> NoImage      } billed, so the user gets a Retry button
    200, content_filter, no image      -> Refused
    url off the router and allow-list  -> BadResponse (``hosts``; never fetched, never retried)

The API key goes only to the router's own origin and is scrubbed from every message.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import httpx

from bot import spool
from bot.domain import GeneratedImage, ImageSpec, InputImage, RouterResult
from bot.errors import InputError, TooManyImages
from bot.router import answers, bodies, decoding, downloads, failures, hosts, offloaded, retries
from bot.router.profiles import PROFILES, Attribution, RouterProfile

log = logging.getLogger(__name__)

USER_AGENT = "Easel/0.1"
MAX_EDIT_IMAGES = 16


# Transient failures are retried at most ``max_retries`` times, each attempt within ``timeout``
# seconds in all, and no wait is started that would end more than ``retry_budget`` seconds after
# the first attempt began. ``result_hosts`` (ROUTER_RESULT_HOSTS) is where url answers may point.
class RouterClient:
    """One router, one connection pool; open with ``async with`` and share it."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 180.0,
        max_retries: int = 3,
        retry_budget: float = 120.0,
        max_download_bytes: int = 100 * 1024 * 1024,
        result_hosts: Sequence[str] = (),
        app_name: str = "Easel",
        app_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        profile: RouterProfile | None = None,
    ) -> None:
        self.profile = profile or PROFILES["requesty"]
        self._base_url = base_url.rstrip("/")
        self._origin = downloads.origin(self._base_url)
        self._public_url = str(httpx.URL(self._base_url).copy_with(userinfo=b""))
        self._hosts = hosts.ResultHosts(self._origin, result_hosts)
        self._api_key = api_key
        self._retries = retries.Retrier(max_retries, retry_budget, timeout)
        self._max_download_bytes = max_download_bytes
        self._router_headers = {"HTTP-Referer": app_url or app_name, "X-Title": app_name}
        if api_key:
            self._router_headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 20.0)),
            headers={"User-Agent": USER_AGENT},
        )

    def __repr__(self) -> str:
        return f"RouterClient(base_url={self._base_url!r})"

    async def __aenter__(self) -> RouterClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- public calls ---------------------------------------------------------------------------

    async def generate(
        self,
        prompt: str,
        spec: ImageSpec,
        *,
        user: str | None = None,
        who: Attribution | None = None,
    ) -> RouterResult:
        """POST /images/generations, base64 answers asked for where the router needs asking."""
        body = bodies.images_body(self.profile, prompt, spec, _who(who, user))
        data, headers = await self._call(
            "POST", "/images/generations", json_body=body, model=spec.model
        )
        return await self._images_result(data, spec.model, headers)

    async def edit(
        self,
        prompt: str,
        images: Sequence[InputImage],
        spec: ImageSpec,
        *,
        mask: InputImage | None = None,
        as_json: bool = False,
        file_ids: Sequence[str] = (),
        user: str | None = None,
        who: Attribution | None = None,
    ) -> RouterResult:
        """POST /images/edits, multipart (``image[]`` parts) or JSON (``images`` refs, forced by file_ids)."""
        count = len(images) + len(file_ids)
        if count > MAX_EDIT_IMAGES:
            raise TooManyImages(
                f"The image service takes at most {MAX_EDIT_IMAGES} input images; you gave {count}."
            )
        if count == 0:
            raise InputError("An edit needs at least one input image.")
        as_json = as_json or bool(file_ids)
        fields = bodies.images_body(
            self.profile, prompt, spec, _who(who, user), edit=True, form=not as_json
        )
        if as_json:
            fields.update(await asyncio.to_thread(bodies.edit_refs, images, mask, file_ids))
            data, headers = await self._call(
                "POST", "/images/edits", json_body=fields, model=spec.model
            )
        else:
            form = {key: str(value) for key, value in fields.items()}
            files = bodies.edit_files(images, mask)
            data, headers = await self._call(
                "POST", "/images/edits", form=form, files=files, model=spec.model
            )
        return await self._images_result(data, spec.model, headers)

    async def chat(
        self,
        model: str,
        messages: list[dict[str, Any]],
        *,
        aspect_ratio: str | None = None,
        image_size: str | None = None,
        modalities: Sequence[str] | None = None,
        outputs: Sequence[str] = (),
        user: str | None = None,
        who: Attribution | None = None,
    ) -> RouterResult:
        """POST /chat/completions for models that answer with ``message.images``; ``outputs``
        (what the model answers with, from the catalog) become the modalities where needed."""
        if not modalities and self.profile.chat_modalities:
            modalities = list(outputs) or ["image", "text"]
        body = bodies.chat_body(
            self.profile,
            model,
            messages,
            aspect_ratio=aspect_ratio,
            image_size=image_size,
            modalities=modalities,
            who=_who(who, user),
        )
        data, headers = await self._call("POST", "/chat/completions", json_body=body, model=model)
        return await self._chat_result(data, model, headers)

    async def check(self) -> list[str]:
        """GET /models with the key: the model ids, or AuthFailed when the key is refused."""
        return [entry["id"] for entry in await self.models()]

    async def models(self) -> list[dict[str, Any]]:
        """GET /models: every listed entry that has an id, as the router sent it."""
        data, _headers = await self._call("GET", "/models")
        entries = data.get("data") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            return []
        return [e for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)]

    user_message = staticmethod(bodies.user_message)

    # -- requests and retries -------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: dict[str, Any] | None = None,
        form: dict[str, str] | None = None,
        files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
        model: str | None = None,
    ) -> tuple[Any, httpx.Headers]:
        """One router request with retries: the parsed JSON of a 2xx answer and its headers
        (where some routers put the cost)."""
        url = self._base_url + path
        headers = {**self._router_headers, "Accept": "application/json"}
        streamed: bodies.StreamedBody | None = None
        if json_body is not None:  # streamed images' base64 is read from disk as it is sent
            streamed = await asyncio.to_thread(bodies.StreamedBody, json_body)
            headers["Content-Type"] = "application/json"
            headers["Content-Length"] = str(streamed.length)

        async def attempt() -> tuple[bytes | spool.Spooled, httpx.Headers]:
            content = streamed.content() if streamed is not None else None  # fresh each try
            request = self._client.build_request(
                method, url, headers=headers, content=content, data=form, files=files
            )
            response, body = await self._send(request, f"{method} {self._public_url}{path}")
            if not response.is_success:
                assert isinstance(body, bytes)  # only a 2xx body is ever spooled
                raise failures.status_error(
                    response.status_code, response.headers, body, model, self._api_key, path
                )
            return body, response.headers

        body, answered = await self._retries.run(attempt, f"{method} {path}")
        log.debug("Router %s %s answered with %d bytes", method, path, len(body))
        return await offloaded.loads(body), answered

    async def _send(
        self, request: httpx.Request, what: str
    ) -> tuple[httpx.Response, bytes | spool.Spooled]:
        """The response and its body: a large 2xx one spooled to a file as it was read."""
        try:
            response = await self._client.send(request, stream=True)
            try:
                cap, spooled = self._max_download_bytes, response.is_success
                return response, await downloads.read_capped(response, cap, spooled)
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise failures.from_httpx(exc, what, self._api_key) from exc

    # -- results --------------------------------------------------------------------------------

    async def _images_result(self, data: Any, model: str, headers: httpx.Headers) -> RouterResult:
        answer = answers.images_answer(self._answer_object(data), model)
        answer = answers.costed(answer, self.profile.cost_header, headers)
        return answer.with_images([await self._image(ref) for ref in answer.refs])

    async def _chat_result(self, data: Any, model: str, headers: httpx.Headers) -> RouterResult:
        answer = answers.chat_answer(self._answer_object(data), model, self._scrub)
        answer = answers.costed(answer, self.profile.cost_header, headers)
        return answer.with_images([await self._image(ref) for ref in answer.refs])

    def _answer_object(self, data: Any) -> dict[str, Any]:
        """The answer as a JSON object; the error instead if it is one dressed as a result."""
        answer = answers.as_dict(data)
        failures.raise_embedded_error(answer, self._api_key)
        return answer

    def _scrub(self, text: str) -> str:
        return failures.scrub(text, self._api_key)

    async def _image(self, ref: answers.ImageRef) -> GeneratedImage:
        if ref.base64:
            return await decoding.off_loop(decoding.decode_b64, ref.value)
        return await self._image_from_url(ref.value)

    async def _image_from_url(self, url: str | decoding.Inline) -> GeneratedImage:
        if isinstance(url, decoding.Inline):
            return await decoding.off_loop(decoding.checked_inline, url)
        if url.startswith("data:"):
            return await decoding.off_loop(decoding.decode_data_url, url)
        body = await self._download(url)
        return await offloaded.checked_image(body)

    async def _download(self, url: str) -> bytes | spool.Spooled:
        """GET an image URL, each redirect checked as the URL was; the key only to the router."""
        host = downloads.url_origin(url)[1]

        async def attempt() -> bytes | spool.Spooled:
            target = url
            for _hop in range(hosts.MAX_REDIRECTS + 1):
                origin = downloads.url_origin(target)
                await self._hosts.check(origin)
                headers = self._router_headers if origin == self._origin else {}
                request = self._client.build_request("GET", target, headers=headers)
                response, body = await self._send(request, "image download")
                redirect = downloads.redirect_target(response)
                if redirect is None:
                    return downloads.checked_download(response, body, origin[1])
                target = redirect
            raise downloads.too_many_redirects(host)

        return await self._retries.run(attempt, f"image download from {host}")


def _who(who: Attribution | None, user: str | None) -> Attribution | None:
    return who if who is not None else (Attribution(user_id=user) if user else None)


def _dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
