"""HTTP clients between services: the httpx API on a lean HTTP/1.1 transport.

httpx's own pool costs the gateway 5-8x more CPU per call under concurrency (httpx #3215;
MEASURED.md). The transport is :class:`~mes_platform.http1.Http1Transport` (a sixth to a fifth
less of the gateway's CPU per message than aiohttp's pool), with aiohttp's pool
(``httpx_aiohttp.AiohttpTransport`` sending URLs as httpx built them: ``ExactUrlTransport``)
for uploads. The bench compares the three.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import aiohttp
import httpx
from aiohttp import ClientTimeout
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions
from yarl import URL

from .context import REQUEST_ID_HEADER, current_request_id
from .http1 import READ_AT_ONCE, Http1Transport
from .internal import INTERNAL_TOKEN_HEADER

__all__ = [
    "ExactUrlTransport",
    "InternalClient",
    "internal_client",
    "path_segment",
    "propagate_request_id",
]


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

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = await super().send(request, **kwargs)
        if not kwargs.get("stream", False):
            # httpx binds a response's stream back to the response (to time it): a reference
            # cycle, which only the garbage collector frees, with the request, the headers
            # and the body hanging from it. Read and closed, the response needs its stream no
            # more. Measured in the gateway: 25 objects a request were left to the collector;
            # none now.
            response.stream = httpx.ByteStream(response.content)
        return response


# The two segments that URL resolution (RFC 3986 section 5.2.4) removes or takes as the parent.
_DOT_SEGMENTS = {".": "%2E", "..": "%2E%2E"}


def path_segment(value: str) -> str:
    """``value`` as exactly one segment of a URL path: the service reads ``value`` back and the
    route called is the one written around it, whatever ``value`` holds.

    Addresses keep their ``@``; anything else that is not a plain character is escaped (a ``/``,
    ``?`` or ``#`` cannot end the segment), and so are ``.`` and ``..``, which would otherwise be
    resolved away (``/messages/..`` is ``/``). An empty value would leave no segment at all, so
    it is refused (``ValueError``): the caller has nothing to ask for.
    """
    if not value:
        raise ValueError("an empty value is not a URL path segment")
    return _DOT_SEGMENTS.get(value) or quote(value, safe="@")


class ExactUrlTransport(AiohttpTransport):
    """aiohttp's connection pool, sending each URL exactly as httpx built it.

    Given a URL as a string, aiohttp parses it again: it decodes the escapes of plain
    characters and then resolves dot segments, so ``/messages/%2E`` would leave as
    ``/messages/`` (another route). A yarl URL marked as already encoded goes out as it is,
    and skips that second parse.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        timeout = request.extensions.get("timeout", {})
        data: bytes | httpx.AsyncByteStream | None
        try:
            data = request.content or None
        except httpx.RequestNotRead:
            data = request.stream  # type: ignore[assignment]
            request.headers.pop("transfer-encoding", None)  # aiohttp chunks it itself
        with map_aiohttp_exceptions():
            response = await self.client.request(
                method=request.method,
                url=URL(str(request.url), encoded=True),
                headers=request.headers,
                data=data,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=ClientTimeout(
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                    connect=timeout.get("pool"),
                ),
                server_hostname=request.extensions.get("sni_hostname"),
            ).__aenter__()
            extensions = {"http_version": b"HTTP/1.1"}
            if response.reason:
                extensions["reason_phrase"] = response.reason.encode()
            length = response.content_length
            if length is not None and length <= READ_AT_ONCE:
                # Read whole: one call, not a stream read chunk by chunk through two layers.
                # Still a stream to httpx, so a caller that streams (aiter_raw) gets it too.
                body = await response.read()
                return httpx.Response(
                    status_code=response.status,
                    headers=response.raw_headers,
                    stream=httpx.ByteStream(body),
                    request=request,
                    extensions=extensions,
                )
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=AiohttpResponseStream(response),
            request=request,
            extensions=extensions,
        )


async def propagate_request_id(request: httpx.Request) -> None:
    request.headers.setdefault(REQUEST_ID_HEADER, current_request_id())


def internal_client(
    base_url: str, internal_token: str, *, timeout: float = 10.0, transport: str | None = None
) -> httpx.AsyncClient:
    """A client for one internal service, sending the internal credential and the request id.

    ``transport``: ``"http1"`` (default: :class:`~mes_platform.http1.Http1Transport`, with
    aiohttp's pool for uploads), ``"aiohttp"`` or ``"httpx"`` (httpx's own pool); env
    ``MES_HTTP_TRANSPORT`` overrides.
    """
    kind = transport or os.environ.get("MES_HTTP_TRANSPORT", "http1")
    kwargs: dict[str, object] = {}
    if kind == "http1":
        kwargs["transport"] = Http1Transport(fallback=ExactUrlTransport())
    elif kind == "aiohttp":
        kwargs["transport"] = ExactUrlTransport()
    else:
        kwargs["limits"] = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    return InternalClient(
        base_url=base_url,
        headers={INTERNAL_TOKEN_HEADER: internal_token},
        timeout=httpx.Timeout(timeout, connect=2.0),
        event_hooks={"request": [propagate_request_id]},
        **kwargs,
    )
