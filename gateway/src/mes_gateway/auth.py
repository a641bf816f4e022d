"""Bearer-token authentication: who is calling, and may they call this route.

Development and test sign tokens locally (HS256, ``jwt_dev_signing_key``); production verifies
RS256/ES256 tokens against the identity provider's JWKS, fetched by PyJWT's ``PyJWKClient``
and cached. Issuer and audience are always checked. Route code only sees a ``Principal``::

    @router.get("/v1/things")
    async def things(principal: MailboxHolder) -> ...:
        principal.require_mailbox(address)
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any, Protocol

import jwt
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.responses import Response

from mes_platform.cache import ExpiringCache
from mes_platform.problems import problem_response

from .errors import (
    AuthenticationFailed,
    ForbiddenRole,
    InvalidToken,
    ServiceUnavailable,
    Unauthenticated,
)
from .principal import ClaimsError, Principal, Role, principal_from_claims
from .settings import GatewaySettings

__all__ = [
    "CurrentPrincipal",
    "JwksVerifier",
    "LocalKeyVerifier",
    "MailboxHolder",
    "OpsPrincipal",
    "PatientPrincipal",
    "TokenVerifier",
    "VerifiedTokens",
    "bearer_scheme",
    "build_verifier",
    "current_principal",
    "install_auth_handlers",
    "issue_dev_token",
    "principal_in_roles",
    "require_roles",
]

_MAX_TOKEN_CHARS = 8192
_REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
_DEV_ALGORITHM = "HS256"

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearerAuth",
    bearerFormat="JWT",
    description="A JWT. In development, get one from `POST /v1/dev/tokens`.",
)


class TokenVerifier(Protocol):
    async def claims(self, token: str) -> dict[str, Any]:
        """Return the verified claims of ``token`` or raise InvalidToken."""
        ...


def _decode(
    token: str, key: Any, algorithms: list[str], settings: GatewaySettings
) -> dict[str, Any]:
    """PyJWT's checks, each failure named so the caller knows what to fix."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=settings.jwt_leeway_seconds,
            options={"require": _REQUIRED_CLAIMS},
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("The token has expired.", reason="expired") from exc
    except jwt.InvalidSignatureError as exc:
        raise InvalidToken("The token signature is not valid.", reason="bad_signature") from exc
    except jwt.InvalidAudienceError as exc:
        raise InvalidToken(
            "The token is not meant for this API (audience).", reason="wrong_audience"
        ) from exc
    except jwt.InvalidIssuerError as exc:
        raise InvalidToken(
            "The token was issued by an unknown issuer.", reason="wrong_issuer"
        ) from exc
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken(
            f"The token lacks the {exc.claim!r} claim.", reason="missing_claim"
        ) from exc
    except jwt.InvalidAlgorithmError as exc:
        raise InvalidToken(
            "The token's algorithm is not accepted.", reason="bad_algorithm"
        ) from exc
    except jwt.ImmatureSignatureError as exc:
        raise InvalidToken("The token is not valid yet.", reason="not_yet_valid") from exc
    except jwt.InvalidTokenError as exc:
        raise InvalidToken("The token is malformed.", reason="malformed") from exc
    return claims


class LocalKeyVerifier:
    """Development and test: HS256 with the gateway's own key (which also signs dev tokens)."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self._key = settings.jwt_dev_signing_key.get_secret_value()

    async def claims(self, token: str) -> dict[str, Any]:
        return _decode(token, self._key, [_DEV_ALGORITHM], self.settings)


class JwksVerifier:
    """Production: keys from the identity provider's JWKS.

    PyJWKClient caches the key set and re-fetches (rate-limited) on an unknown ``kid``. Its
    fetch is blocking, so it runs in a thread; keys already seen are kept here so the hot path
    never leaves the event loop.
    """

    def __init__(self, settings: GatewaySettings) -> None:
        assert settings.jwks_url, "production settings require jwks_url"
        self.settings = settings
        self._client = jwt.PyJWKClient(
            settings.jwks_url, cache_jwk_set=True, lifespan=settings.jwks_cache_seconds, timeout=5
        )
        # Providers rotate a handful of keys, never hundreds.
        self._keys: ExpiringCache[str, jwt.PyJWK] = ExpiringCache(max_entries=64)

    async def _signing_key(self, token: str) -> jwt.PyJWK:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.InvalidTokenError as exc:
            raise InvalidToken("The token is malformed.", reason="malformed") from exc
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("The token header has no key id (kid).", reason="unknown_key")
        hit = self._keys.get(kid)
        if hit is not None:
            return hit
        try:
            key = await asyncio.to_thread(self._client.get_signing_key, kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise ServiceUnavailable(
                "jwks", "The identity provider's keys cannot be fetched."
            ) from exc
        except jwt.PyJWKClientError as exc:
            raise InvalidToken(
                "The token was signed with an unknown key.", reason="unknown_key"
            ) from exc
        self._keys.put(kid, key, time.monotonic() + self.settings.jwks_cache_seconds)
        return key

    async def claims(self, token: str) -> dict[str, Any]:
        key = await self._signing_key(token)
        return _decode(token, key, self.settings.jwt_algorithms, self.settings)


class VerifiedTokens:
    """Principals of tokens already verified, so a client that sends the same token on every
    request pays for its signature once.

    An entry is used only while its token is unexpired (the same leeway as PyJWT's check) and
    for at most ``max_age_seconds``, so a key the provider withdraws stops being honoured
    within that time. A miss (or an expired entry) goes through full verification, whose
    errors are the ones the client sees.
    """

    def __init__(
        self,
        *,
        leeway_seconds: float,
        max_age_seconds: float = 60.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.leeway_seconds = leeway_seconds
        self.max_age_seconds = max_age_seconds
        self.clock = clock
        self._principals: ExpiringCache[str, Principal] = ExpiringCache(
            max_entries=max_entries, clock=clock
        )

    def get(self, token: str) -> Principal | None:
        return self._principals.get(token)

    def put(self, token: str, principal: Principal, claims: dict[str, Any]) -> None:
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or self.max_age_seconds <= 0:
            return
        until = min(float(exp) + self.leeway_seconds, self.clock() + self.max_age_seconds)
        self._principals.put(token, principal, until)


def build_verifier(settings: GatewaySettings) -> TokenVerifier:
    if settings.environment == "production":
        return JwksVerifier(settings)
    return LocalKeyVerifier(settings)


def issue_dev_token(
    settings: GatewaySettings,
    *,
    role: Role,
    subject: str,
    ttl_seconds: int,
    ins: str | None = None,
    mailboxes: Iterable[str] = (),
    name: str | None = None,
) -> str:
    """Sign a development token with the local key; never called in production."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "role": role.value,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    if ins is not None:
        claims["ins"] = ins
    if mailboxes:
        claims["mailboxes"] = sorted(mailboxes)
    if name is not None:
        claims["name"] = name
    return jwt.encode(
        claims, settings.jwt_dev_signing_key.get_secret_value(), algorithm=_DEV_ALGORITHM
    )


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Principal:
    if credentials is None:
        raise Unauthenticated("Send 'Authorization: Bearer <token>'.")
    token = credentials.credentials
    if len(token) > _MAX_TOKEN_CHARS:
        raise InvalidToken("The token is too long.", reason="malformed")
    verified: VerifiedTokens = request.app.state.verified_tokens
    if (known := verified.get(token)) is not None:
        return known
    verifier: TokenVerifier = request.app.state.token_verifier
    claims = await verifier.claims(token)
    try:
        principal = principal_from_claims(claims)
    except ClaimsError as exc:
        raise InvalidToken(
            f"The token's claims are not usable: {exc}.", reason="bad_claims"
        ) from exc
    verified.put(token, principal, claims)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def principal_in_roles(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    allowed: frozenset[Role],
) -> Principal:
    """The caller, if its role is one of ``allowed`` (403 ``forbidden_role`` otherwise)."""
    principal = await current_principal(request, credentials)
    if principal.role not in allowed:
        raise ForbiddenRole(
            f"This operation is for the role(s) {', '.join(sorted(allowed))}; "
            f"your token has the role {principal.role.value}.",
            allowed_roles=sorted(allowed),
        )
    return principal


def require_roles(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets only ``roles`` through (403 ``forbidden_role`` otherwise)."""
    allowed = frozenset(roles)

    # The bearer credentials are taken here rather than through CurrentPrincipal: one level
    # of dependencies less for FastAPI to solve on every request.
    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    ) -> Principal:
        return await principal_in_roles(request, credentials, allowed)

    return dependency


PatientPrincipal = Annotated[Principal, Depends(require_roles(Role.PATIENT))]
OpsPrincipal = Annotated[Principal, Depends(require_roles(Role.OPS))]
MailboxHolder = Annotated[Principal, Depends(require_roles(Role.PROFESSIONAL, Role.APPLICATION))]


def _challenge(exc: AuthenticationFailed) -> str:
    if isinstance(exc, InvalidToken):
        # RFC 6750 quoted-string: keep it to safe characters.
        description = "".join(c for c in exc.detail if c.isalnum() or c in " .,'()-_")
        return (
            f'Bearer realm="mes-messagerie", error="invalid_token", '
            f'error_description="{description}"'
        )
    return 'Bearer realm="mes-messagerie"'


def install_auth_handlers(app: FastAPI) -> None:
    """401s carry ``WWW-Authenticate``; the platform's DomainError handler has no headers."""

    @app.exception_handler(AuthenticationFailed)
    async def _authentication_failed(request: Request, exc: AuthenticationFailed) -> Response:
        return problem_response(
            exc.status,
            exc.code,
            exc.title,
            exc.detail,
            instance=request.url.path,
            headers={"WWW-Authenticate": _challenge(exc)},
            **exc.extra,
        )
