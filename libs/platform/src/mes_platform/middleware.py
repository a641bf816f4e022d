"""Pure ASGI middleware (no per-request task): request id, metrics, body size limit."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .context import REQUEST_ID_HEADER, request_id_var, sanitize_request_id
from .metrics import HTTP_LATENCY, HTTP_REQUESTS
from .problems import problem_response

__all__ = ["BodyLimitMiddleware", "RequestContextMiddleware"]

log = logging.getLogger(__name__)
# One line per request served (``<PREFIX>LOG_REQUESTS=false`` turns it off).
request_log = logging.getLogger("mes.requests")

_RID_HEADER = REQUEST_ID_HEADER.lower().encode()


def _route_template(scope: Scope) -> str:
    """The route's template (``/v1/admin/patients/{ins}``), never the path itself: paths hold
    patients' INS and mailbox addresses, which no log line or metric label may carry."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class RequestContextMiddleware:
    """Accepts or creates ``X-Request-ID``, echoes it, counts requests by route template, and
    writes one log line per request (``log_requests``): its id, method, route template, status
    and duration, nothing of what it carries."""

    def __init__(self, app: ASGIApp, service: str, log_requests: bool = True) -> None:
        self.app = app
        self.service = service
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == _RID_HEADER:
                incoming = value.decode("latin-1")
                break
        request_id = sanitize_request_id(incoming)
        token = request_id_var.set(request_id)
        status = 500
        started = time.perf_counter()

        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((_RID_HEADER, request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Answered here, inside the request's context, so that the 500 carries the request
            # id (header and body) and its log line too; Starlette's outer handler would do it
            # after the id is gone, then re-raise for the server to log it a second time.
            log.error(
                "unhandled error",
                exc_info=True,
                extra={"route": _route_template(scope), "method": scope.get("method")},
            )
            if started_response:
                raise  # too late for a problem document: the server cuts the connection
            response = problem_response(
                500,
                "internal_error",
                "Internal error",
                "An unexpected error occurred; quote the request id.",
                instance=scope.get("path"),
            )
            await response(scope, receive, send_with_id)
        finally:
            template = _route_template(scope)
            method = scope["method"]
            duration = time.perf_counter() - started
            HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, template).observe(duration)
            if self.log_requests:
                request_log.info(
                    "%s %s %d",
                    method,
                    template,
                    status,
                    extra={
                        "method": method,
                        "route": template,
                        "status": status,
                        "duration_ms": round(duration * 1000, 3),
                    },
                )
            request_id_var.reset(token)


class BodyLimitMiddleware:
    """Refuses bodies over ``max_bytes`` with 413, whether or not Content-Length is declared.

    ``overrides`` maps a path prefix to a larger limit (uploads)."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, overrides: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.overrides = overrides or {}

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.overrides.items():
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope["path"])
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit or declared < 0:
                    await self._refuse(scope, receive, send, limit)
                    return
        received = 0
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not refused:
                    # Answer now; whatever the app does with the error below is not sent.
                    refused = True
                    await self._refuse(scope, receive, send, limit)
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            pass
        except Exception:
            if not refused:
                raise

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(
            413,
            "payload_too_large",
            "Payload too large",
            f"The request body exceeds the limit of {limit} bytes.",
            instance=scope["path"],
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass
