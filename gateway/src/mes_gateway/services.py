"""The gateway's clients of the services behind it, and how their answers reach the caller.

One ``internal_client`` per service, living within the app's lifespan (built on first use,
closed at shutdown; nothing connects at import time). A service's 4xx problem is passed
through as the same problem (status, code, detail and extra fields); a 5xx, a refused internal
credential or a connection error becomes 503 ``service_unavailable`` naming the service, never
a 500. Only GETs are retried, briefly and only when the connection failed, since a GET cannot
act twice.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from pydantic import BaseModel
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from mes_platform.clients import InternalClient, internal_client
from mes_platform.internal import INTERNAL_TOKEN_HEADER

from .errors import ServiceUnavailable, UpstreamProblem
from .settings import APART, SERVICE_NAMES, STANDS_IN_FOR, GatewaySettings

__all__ = ["ServiceClients", "ServicesDep", "raise_for_problem", "service_clients"]

log = logging.getLogger(__name__)

_PROBLEM_MEMBERS = frozenset(
    {"type", "title", "status", "code", "detail", "instance", "request_id"}
)
_RETRIED = (httpx.ConnectError, httpx.ConnectTimeout)
# Absolute URLs kept ready for the paths called most: httpx parses a relative path and merges
# it with the base URL on every call (about 25 us of the gateway's CPU per call).
_URL_CACHE_SIZE = 256
_FIRST_RETRY_PAUSE = 0.05
_SERVICE_NAME = re.compile(r"[a-z][a-z-]{0,39}")
_JSON = {"Content-Type": "application/json"}


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _unavailable_behind(service: str, status: int, body: Any) -> str:
    """The service to name in a 503: the one ``service`` could not reach to decide, when it
    says so (conversation waiting for identity), else ``service`` itself."""
    if status == 503 and isinstance(body, dict) and body.get("code") == "dependency_unavailable":
        dependency = body.get("dependency")
        if isinstance(dependency, str) and _SERVICE_NAME.fullmatch(dependency):
            return dependency
    return service


def raise_for_problem(service: str, response: httpx.Response) -> None:
    """Turn a service's error answer into the gateway's answer for the same error."""
    status = response.status_code
    if status < 400:
        return
    body = _json(response)
    if status >= 500 or status == 401:
        # 401 here means the internal credential was refused: a gateway misconfiguration the
        # caller cannot fix, so it must not look like a problem with the caller's own token.
        log.error(
            "service answered with an error",
            extra={
                "upstream": service,
                "upstream_status": status,
                "upstream_code": body.get("code") if isinstance(body, dict) else None,
            },
        )
        raise ServiceUnavailable(_unavailable_behind(service, status, body))
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        extra = {k: v for k, v in body.items() if k not in _PROBLEM_MEMBERS}
        raise UpstreamProblem(
            body.get("detail") if isinstance(body.get("detail"), str) else None,
            code=body["code"],
            status=status,
            title=body["title"] if isinstance(body.get("title"), str) else "Request refused",
            **extra,
        )
    raise UpstreamProblem(
        f"The {service} service refused the request.",
        code="upstream_refused",
        status=status,
        title="Request refused",
    )


class ServiceClients:
    """``transports`` (tests) routes a service to an in-process app or a fake transport."""

    def __init__(
        self,
        settings: GatewaySettings,
        transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        unknown = set(transports or {}) - {*SERVICE_NAMES, *APART}
        if unknown:
            raise ValueError(f"unknown services: {sorted(unknown)}")
        self.settings = settings
        self._transports = dict(transports or {})
        for apart, service in STANDS_IN_FOR.items():
            if service in self._transports:
                self._transports.setdefault(apart, self._transports[service])
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._urls: OrderedDict[tuple[str, str], httpx.URL] = OrderedDict()
        self._open = False

    @property
    def opened(self) -> bool:
        return self._open

    def _build(self, name: str, base_url: str) -> httpx.AsyncClient:
        token = self.settings.internal_token.get_secret_value()
        timeout = self.settings.upstream_timeout_seconds
        transport = self._transports.get(name)
        if transport is None:
            return internal_client(base_url, token, timeout=timeout)
        # Same headers and hooks as internal_client, over the injected transport.
        return InternalClient(
            base_url=base_url,
            transport=transport,
            headers={INTERNAL_TOKEN_HEADER: token},
            timeout=httpx.Timeout(timeout, connect=2.0),
        )

    async def open(self) -> None:
        self._open = True

    async def aclose(self) -> None:
        self._open = False
        clients, self._clients = self._clients, {}
        for client in {id(c): c for c in clients.values()}.values():
            await client.aclose()

    def processes_of(self, service: str) -> list[str]:
        """``service`` and its processes apart (:data:`STANDS_IN_FOR`) that run apart: every
        process to tell of something that each of them keeps (a cached answer)."""
        apart = [
            name
            for name, stood_in in STANDS_IN_FOR.items()
            if stood_in == service and name in self.settings.service_urls
        ]
        return [service, *apart]

    def client(self, service: str) -> httpx.AsyncClient:
        """The service's client, built on first use while open: each one loads the CA bundle
        for its SSL context (~0.1-0.2 s of CPU), which a gateway that never calls a given
        service, or a test, need not pay. All are closed with the app."""
        client = self._clients.get(service)
        if client is None:
            url = self.settings.service_urls.get(service)
            stood_in = STANDS_IN_FOR.get(service)
            if self._open and url is not None:
                client = self._build(service, url)
            elif self._open and stood_in is not None:
                # Not run apart: the service it stands in for serves its calls, from its pool.
                client = self.client(stood_in)
            else:
                raise ServiceUnavailable(service, f"No client for the {service} service.")
            self._clients[service] = client
        return client

    def _url(self, service: str, client: httpx.AsyncClient, path: str) -> httpx.URL:
        """``path`` on the service's base URL, as httpx would merge it, parsed once while it
        is among the most recently used."""
        key = (service, path)
        url = self._urls.get(key)
        if url is not None:
            self._urls.move_to_end(key)
            return url
        base = client.base_url  # what httpx does with a relative URL, done once
        url = base.copy_with(raw_path=base.raw_path + httpx.URL(path).raw_path.lstrip(b"/"))
        self._urls[key] = url
        if len(self._urls) > _URL_CACHE_SIZE:
            self._urls.popitem(last=False)
        return url

    async def get(
        self,
        service: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """GET, retried twice on connection failure; raises the mapped problem on error. A
        read of a process apart (:data:`STANDS_IN_FOR`) that cannot connect goes to its
        service at once: the same code on the same database."""
        client = self.client(service)
        url = self._url(service, client, path)
        try:
            response = await client.get(url, params=params, headers=headers)
        except _RETRIED:
            stood_in = STANDS_IN_FOR.get(service)
            if stood_in is not None and service in self.settings.service_urls:
                log.info("process apart unreachable", extra={"upstream": service})
                return await self.get(stood_in, path, params=params, headers=headers)
            response = await self._retried(
                service, client, "GET", url, params=params, headers=headers
            )
        except httpx.TransportError as exc:
            raise self._unavailable(service, exc) from exc
        raise_for_problem(service, response)
        return response

    async def _retried(
        self,
        service: str,
        client: httpx.AsyncClient,
        method: str,
        url: httpx.URL,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The two more attempts of a call whose connection failed, each after a short pause."""
        await asyncio.sleep(_FIRST_RETRY_PAUSE)
        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(2),
                wait=wait_exponential(multiplier=0.1, max=0.2),
                retry=retry_if_exception_type(_RETRIED),
                reraise=True,
            ):
                with attempt:
                    return await client.request(
                        method, url, params=params, json=json, content=content, headers=headers
                    )
        except httpx.TransportError as exc:
            raise self._unavailable(service, exc) from exc
        raise AssertionError("unreachable: tenacity reraises the last failure")

    async def send(
        self,
        service: str,
        method: str,
        path: str,
        *,
        body: BaseModel | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = False,
    ) -> httpx.Response:
        """A state-changing call: never retried here (the caller may retry with its
        Idempotency-Key), unless ``idempotent`` (opening a message), which is retried twice on
        connection failure as a GET is; raises the mapped problem on error.

        ``body`` is the call's request model (of :mod:`mes_contracts.internal`), written to
        JSON in one pass by its own serialiser."""
        client = self.client(service)
        url = self._url(service, client, path)
        content = None
        if body is not None:
            content = body.model_dump_json(by_alias=True)
            headers = {**headers, **_JSON} if headers else _JSON
        try:
            response = await client.request(
                method, url, json=json, content=content, headers=headers
            )
        except _RETRIED as exc:
            if not idempotent:
                raise self._unavailable(service, exc) from exc
            response = await self._retried(
                service, client, method, url, json=json, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            raise self._unavailable(service, exc) from exc
        raise_for_problem(service, response)
        return response

    async def readiness(self, service: str) -> tuple[bool, dict[str, Any]]:
        """One service's ``/readyz``, bounded by ``health_timeout_seconds``; never raises."""
        timeout = self.settings.health_timeout_seconds
        try:
            response = await asyncio.wait_for(
                self.client(service).get("/readyz", timeout=timeout), timeout
            )
        except (httpx.TransportError, TimeoutError, ServiceUnavailable):
            return False, {"status": "unreachable", "checks": {}}
        body = _json(response)
        checks = body.get("checks", {}) if isinstance(body, dict) else {}
        ready = (
            response.status_code == 200 and isinstance(body, dict) and body.get("status") == "ready"
        )
        return ready, {"status": "ready" if ready else "not_ready", "checks": checks}

    @staticmethod
    def _unavailable(service: str, exc: Exception) -> ServiceUnavailable:
        log.warning("service unreachable", extra={"upstream": service, "error": repr(exc)})
        return ServiceUnavailable(service)


async def service_clients(request: Request) -> ServiceClients:
    clients: ServiceClients = request.app.state.services
    return clients


ServicesDep = Annotated[ServiceClients, Depends(service_clients)]
