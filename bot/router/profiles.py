"""What differs between OpenAI-compatible routers, as one frozen profile per kind.

The client reads these fields and never asks which router it talks to: what to send and leave
out, where the cost of a call comes from, which endpoints exist, how server and job ids travel
for cost attribution, and the model ids Easel uses when none are configured.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

KINDS = ("requesty", "openrouter", "litellm", "openai")


@dataclass(frozen=True)
class Attribution:
    """Who a call is for, so the router's dashboard can split spend by server."""

    user_id: str | None = None
    server_id: str | None = None
    job_id: int | None = None


@dataclass(frozen=True)
class RouterProfile:
    """One router's dialect of the OpenAI API."""

    kind: str
    base_url: str  # the documented base URL, for the README and ``check``
    hosts: tuple[str, ...]  # host names (or their parent domains) that mean this router
    images_api: bool = True  # /images/generations and /images/edits exist
    response_format: bool = True  # send response_format=b64_json (Requesty answers url otherwise)
    chat_modalities: bool = False  # chat image calls must name the modalities they want back
    cost_header: str | None = None  # a response header holding the call's cost in USD
    cost_from_prices: bool = False  # no reported cost: price the token usage from the catalog
    metadata_field: str | None = None  # body field for {tags, trace_id, user_id} (JSON bodies)
    user_format: str = "{user}"  # the ``user`` field; {user}, {server} and {job} are filled in
    error_shape: str = "openai"  # the error body it answers with (failures reads every shape)
    models: tuple[str, str, str] = ("", "", "")  # default imagine, edit and refine models

    def request_fields(self, who: Attribution | None, *, form: bool = False) -> dict[str, Any]:
        """The attribution fields for one request body (a multipart form carries no objects)."""
        if who is None:
            return {}
        fields: dict[str, Any] = {}
        user = self.user_format.format(
            user=who.user_id or "", server=who.server_id or "none", job=who.job_id or ""
        )
        if who.user_id or "{user}" not in self.user_format:
            fields["user"] = user
        if self.metadata_field and not form and (who.server_id or who.job_id is not None):
            tags = ["easel", f"server:{who.server_id or 'none'}"]
            meta: dict[str, Any] = {"tags": tags}
            if who.job_id is not None:
                meta["trace_id"] = f"job-{who.job_id}"
            if who.user_id:
                meta["user_id"] = who.user_id
            fields[self.metadata_field] = meta
        return fields


_REQUESTY_MODELS = (
    "azure/openai/gpt-image-1",
    "azure/openai/gpt-image-1",
    "vertex/google/gemini-3-pro-image-preview",
)

PROFILES: dict[str, RouterProfile] = {
    "requesty": RouterProfile(
        kind="requesty",
        base_url="https://router.requesty.ai/v1",
        hosts=("requesty.ai",),
        metadata_field="requesty",
        error_shape="requesty",
        models=_REQUESTY_MODELS,
    ),
    "openrouter": RouterProfile(
        kind="openrouter",
        base_url="https://openrouter.ai/api/v1",
        hosts=("openrouter.ai",),
        images_api=False,
        response_format=False,
        chat_modalities=True,
        user_format="easel:server:{server}:job:{job}",
        error_shape="openrouter",
        models=(
            "google/gemini-2.5-flash-image",
            "google/gemini-2.5-flash-image",
            "google/gemini-3-pro-image-preview",
        ),
    ),
    "litellm": RouterProfile(
        kind="litellm",
        base_url="http://localhost:4000/v1",
        hosts=(),
        response_format=False,
        cost_header="x-litellm-response-cost",
        metadata_field="metadata",
        models=("gpt-image-1", "gpt-image-1", "gemini/gemini-3-pro-image-preview"),
    ),
    "openai": RouterProfile(
        kind="openai",
        base_url="https://api.openai.com/v1",
        hosts=("api.openai.com",),
        response_format=False,
        cost_from_prices=True,
        models=("gpt-image-1", "gpt-image-1", "gpt-image-1"),
    ),
}


def guess_kind(base_url: str) -> str:
    """The router a base URL names by its host; LiteLLM by its usual port; else Requesty."""
    parts = urllib.parse.urlsplit(base_url)
    host = (parts.hostname or "").lower()
    for profile in PROFILES.values():
        if any(host == name or host.endswith("." + name) for name in profile.hosts):
            return profile.kind
    if parts.port == 4000 or "litellm" in host:
        return "litellm"
    return "requesty"


def profile_for(kind: str | None, base_url: str) -> RouterProfile:
    return PROFILES[kind or guess_kind(base_url)]
