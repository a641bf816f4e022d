"""Firebase Cloud Messaging, HTTP v1: an OAuth2 access token obtained with the service
account's signed JWT, then ``POST {endpoint}/v1/projects/{project}/messages:send``."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import jwt

from ..domain.errors import DeliveryDeferred, DeliveryRefused, TokenUnregistered

__all__ = ["FCM_SCOPE", "FcmPush"]

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_TOKEN_MARGIN = 60.0  # renew the access token this long before it expires


def _error_codes(response: httpx.Response) -> set[str]:
    """FCM's error status and its ``FcmError`` codes (``UNREGISTERED``, ...)."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        return set()
    codes = {str(error.get("status", ""))}
    for detail in error.get("details", []) or []:
        if isinstance(detail, dict) and "errorCode" in detail:
            codes.add(str(detail["errorCode"]))
    return codes


class FcmPush:
    def __init__(
        self,
        project_id: str,
        credentials_file: Path,
        *,
        endpoint: str = "https://fcm.googleapis.com",
        token_uri: str = "",
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        account: dict[str, Any] = json.loads(credentials_file.read_text(encoding="utf-8"))
        self.project_id = project_id
        self.client_email = str(account["client_email"])
        self.private_key = str(account["private_key"])
        self.key_id = account.get("private_key_id")
        self.token_uri = token_uri or str(account["token_uri"])
        self.send_url = f"{endpoint.rstrip('/')}/v1/projects/{project_id}/messages:send"
        self.client = client or httpx.AsyncClient(timeout=timeout)
        self._access_token: str | None = None
        self._expires_at = 0.0

    def _assertion(self, now: float) -> str:
        claims = {
            "iss": self.client_email,
            "sub": self.client_email,
            "scope": FCM_SCOPE,
            "aud": self.token_uri,
            "iat": int(now),
            "exp": int(now) + 3600,
        }
        headers = {"kid": self.key_id} if self.key_id else None
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers=headers)

    async def _token(self) -> str:
        now = time.time()
        if self._access_token is not None and now < self._expires_at - _TOKEN_MARGIN:
            return self._access_token
        try:
            answer = await self.client.post(
                self.token_uri, data={"grant_type": _GRANT, "assertion": self._assertion(now)}
            )
        except httpx.TransportError as exc:
            raise DeliveryDeferred(f"token endpoint unreachable: {exc!r}") from exc
        if answer.status_code != 200:
            raise DeliveryDeferred(f"token endpoint answered {answer.status_code}")
        body = answer.json()
        self._access_token = str(body["access_token"])
        self._expires_at = now + float(body.get("expires_in", 3600))
        return self._access_token

    async def push(self, token: str, title: str, body: str, data: Mapping[str, str]) -> None:
        message = {
            "message": {
                "token": token,
                "notification": {"title": title, "body": body},
                "data": dict(data),
                "android": {"priority": "high"},
                "apns": {"headers": {"apns-priority": "10"}},
            }
        }
        access = await self._token()
        try:
            answer = await self.client.post(
                self.send_url, json=message, headers={"Authorization": f"Bearer {access}"}
            )
        except httpx.TransportError as exc:
            raise DeliveryDeferred(f"FCM unreachable: {exc!r}") from exc
        status = answer.status_code
        if status == 200:
            return
        codes = _error_codes(answer)
        if "UNREGISTERED" in codes or (status == 404 and "NOT_FOUND" in codes):
            raise TokenUnregistered("FCM: the token is no longer registered")
        if status == 401:
            self._access_token = None  # expired or revoked: a new one next time
            raise DeliveryDeferred("FCM refused the access token")
        if status in (400, 403) or "INVALID_ARGUMENT" in codes or "SENDER_ID_MISMATCH" in codes:
            raise DeliveryRefused(f"FCM refused the push: {status} {sorted(codes)}")
        raise DeliveryDeferred(f"FCM answered {status} {sorted(codes)}")

    async def close(self) -> None:
        await self.client.aclose()
