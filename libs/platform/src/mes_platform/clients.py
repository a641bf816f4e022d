"""HTTP clients between services: the httpx API over aiohttp's connection pool.

httpx's own pool costs the gateway 5-8x more CPU per call under concurrency (httpx #3215;
MEASURED.md), so the clients are :class:`InternalClient`\\ s (an ``httpx.AsyncClient`` that
sends straight to its transport) on :class:`AiohttpPoolTransport`, a subclass of
``httpx_aiohttp.AiohttpTransport`` that hands aiohttp each URL exactly as httpx built it and
reads small answers whole. Public interfaces of httpx, aiohttp and yarl only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from yarl import URL

from .context import REQUEST_ID_HEADER, current_request_id
from .internal import INTERNAL_TOKEN_HEADER

__all__ = [
    "READ_AT_ONCE",
    "AiohttpPoolTransport",
    "InternalClient",
    "internal_client",
    "path_segment",
]

# Answers up to this size (every JSON answer) are read in one call; bigger ones (an attachment
# being relayed) are streamed.
READ_AT_ONCE = 256 * 1024
_CHUNK = 64 * 1024


class InternalClient(httpx.AsyncClient):
    """``httpx.AsyncClient`` between services, whose ``send`` hands the request straight to the
    transport.

    Between services there is no credential flow to run, no redirect to follow and no cookie
    to keep: what ``AsyncClient.send`` does around the transport (its auth and redirect flows,
    the cookie jar fed through the standard library's cookie machinery, a stream bound back to
    the response to time it, the event hooks) was a third of the gateway's CPU per internal
    call. Requests are still built by httpx (base URL, default headers, timeouts), and the
    answer is the transport's ``httpx.Response``, read whole unless ``stream=True``. The request
    id of the request being served goes with every call.
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self.pool = transport

    async def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        if auth is not httpx.USE_CLIENT_DEFAULT or follow_redirects not in (
            httpx.USE_CLIENT_DEFAULT,
            False,
        ):
            raise ValueError("internal calls follow no redirect and carry no other credential")
        if self.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        request.headers.setdefault(REQUEST_ID_HEADER, current_request_id())
        response = await self.pool.handle_async_request(request)
        response.request = request
        if not stream:
            try:
                await response.aread()
            finally:
                await response.aclose()
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


# aiohttp's errors as httpx's, most specific first.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (TimeoutError, httpx.PoolTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ClientPayloadError, httpx.ReadError),
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.NetworkError),
)


@contextmanager
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        for raised, mapped in _ERRORS:
            if isinstance(error, raised):
                raise mapped(str(error) or type(error).__name__, request=request) from error
        raise


class _AnswerStream(httpx.AsyncByteStream):
    """A big answer, relayed chunk by chunk as aiohttp reads it."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self.response = response
        self.request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors(self.request):
            async for chunk in self.response.content.iter_chunked(_CHUNK):
                yield chunk

    async def aclose(self) -> None:
        self.response.release()


class AiohttpPoolTransport(AiohttpTransport):
    """``httpx_aiohttp``'s transport (aiohttp's pool), sending each URL exactly as httpx built
    it and reading an answer of up to :data:`READ_AT_ONCE` whole.

    Given a URL as a string, aiohttp parses it again: it decodes the escapes of plain
    characters and then resolves dot segments, so ``/messages/%2E`` would leave as
    ``/messages/`` (another route). A yarl URL marked as already encoded goes out as it is.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("limits", httpx.Limits(max_connections=200))
        super().__init__(**kwargs)
        self.session: aiohttp.ClientSession | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.session is None:
            self.session = self.get_client()
            self.client = self.session  # closed by AiohttpTransport.aclose
        timeout = request.extensions.get("timeout", {})
        data: bytes | httpx.AsyncByteStream | None
        try:
            data = request.content or None
        except httpx.RequestNotRead:
            data = request.stream  # type: ignore[assignment]
            request.headers.pop("transfer-encoding", None)  # aiohttp chunks it itself
        with _as_httpx_errors(request):
            response = await self.session.request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=request.headers.multi_items(),
                data=data,
                allow_redirects=False,
                auto_decompress=False,
                compress=None,
                timeout=aiohttp.ClientTimeout(
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                    connect=timeout.get("pool"),
                ),
            )
            extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
            if response.reason:
                extensions["reason_phrase"] = response.reason.encode()
            length = response.content_length
            if length is not None and length <= READ_AT_ONCE:
                # Read whole: one call, not a stream read chunk by chunk through two layers.
                # Still a stream to httpx, so a caller that streams (aiter_raw) gets it too.
                body = await response.read()
                return httpx.Response(
                    response.status,
                    headers=response.raw_headers,
                    stream=httpx.ByteStream(body),
                    request=request,
                    extensions=extensions,
                )
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_AnswerStream(response, request),
            request=request,
            extensions=extensions,
        )


def internal_client(
    base_url: str, internal_token: str, *, timeout: float = 10.0
) -> httpx.AsyncClient:
    """A client for one internal service, sending the internal credential and the request id."""
    return InternalClient(
        base_url=base_url,
        headers={INTERNAL_TOKEN_HEADER: internal_token},
        timeout=httpx.Timeout(timeout, connect=2.0),
        transport=AiohttpPoolTransport(),
    )
