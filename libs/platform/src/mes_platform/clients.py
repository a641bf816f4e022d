"""HTTP clients between services: the httpx API on aiohttp's connection pool.

httpx's own pool costs the gateway 5-8x more CPU per call under concurrency (httpx #3215;
MEASURED.md), so the transport is ``httpx_aiohttp.AiohttpTransport``. The bench compares both.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import httpx
from httpx_aiohttp import AiohttpTransport

from .context import REQUEST_ID_HEADER, current_request_id
from .internal import INTERNAL_TOKEN_HEADER

__all__ = ["InternalClient", "internal_client", "path_segment", "propagate_request_id"]


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing: internal answers carry no session."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class InternalClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` between services, without a cookie jar.

    httpx reads every response into the client's jar through the standard library's cookie
    machinery (a ``urllib`` request and an ``email`` message built per response): measured in
    the gateway, about a tenth of the CPU of a call, for answers that never set a cookie.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._cookies

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        raise TypeError("internal clients keep no cookies")


def path_segment(value: str) -> str:
    """``value`` as one segment of a URL path: addresses keep their @, anything else that is
    not a plain character is escaped (a ``/`` cannot reach another route)."""
    return quote(value, safe="@")


async def propagate_request_id(request: httpx.Request) -> None:
    request.headers.setdefault(REQUEST_ID_HEADER, current_request_id())


def internal_client(
    base_url: str, internal_token: str, *, timeout: float = 10.0, transport: str | None = None
) -> httpx.AsyncClient:
    """A client for one internal service, sending the internal credential and the request id.

    ``transport``: ``"aiohttp"`` (default) or ``"httpx"``; env ``MES_HTTP_TRANSPORT`` overrides.
    """
    kind = transport or os.environ.get("MES_HTTP_TRANSPORT", "aiohttp")
    kwargs: dict[str, object] = {}
    if kind == "aiohttp":
        kwargs["transport"] = AiohttpTransport()
    else:
        kwargs["limits"] = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    return InternalClient(
        base_url=base_url,
        headers={INTERNAL_TOKEN_HEADER: internal_token},
        timeout=httpx.Timeout(timeout, connect=2.0),
        event_hooks={"request": [propagate_request_id]},
        **kwargs,
    )
