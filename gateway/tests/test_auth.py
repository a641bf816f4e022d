"""Bearer tokens in development/test: minted by /v1/dev/tokens, refused with 401/403 problems."""

from __future__ import annotations

import time

import jwt
import pytest

from mes_contracts.ins import ins_key

INS = "1840575123456" + ins_key("1840575123456")
PROBLEM = "application/problem+json"
# An INS that fails the gateway's own check: a route that answers 422 invalid_ins has
# accepted the token first, without needing the identity service.
ADMIN_BAD_INS = "/v1/admin/patients/123"


async def test_dev_token_is_issued_and_accepted(gateway, dev_token):
    response = await gateway.post("/v1/dev/tokens", json={"role": "ops", "name": "Ops"})
    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["role"] == "ops" and claims["iss"] == "mes-messagerie-dev"

    used = await gateway.get(ADMIN_BAD_INS, headers=await dev_token(gateway, role="ops"))
    assert used.status_code == 422 and used.json()["code"] == "invalid_ins"


async def test_dev_token_claims_by_role(gateway):
    patient = await gateway.post(
        "/v1/dev/tokens", json={"role": "patient", "ins": INS, "ttl_seconds": 120}
    )
    claims = jwt.decode(patient.json()["access_token"], options={"verify_signature": False})
    assert claims["ins"] == INS and claims["sub"] == INS
    assert claims["exp"] - claims["iat"] == 120

    pro = await gateway.post(
        "/v1/dev/tokens",
        json={"role": "professional", "mailboxes": ["Dr.Martin@Medecin.MSSante.fr"]},
    )
    claims = jwt.decode(pro.json()["access_token"], options={"verify_signature": False})
    assert claims["mailboxes"] == ["dr.martin@medecin.mssante.fr"]


@pytest.mark.parametrize(
    ("body", "code", "reason"),
    [
        ({"role": "patient"}, "ins_required", None),
        ({"role": "patient", "ins": INS[:-1]}, "invalid_ins", "wrong_length"),
        ({"role": "patient", "ins": "1840575X23456" + INS[-2:]}, "invalid_ins", "bad_characters"),
        ({"role": "patient", "ins": INS[:-2] + "00"}, "invalid_ins", "wrong_key"),
        ({"role": "professional"}, "invalid_mailboxes", None),
        ({"role": "application", "mailboxes": ["robot@gmail.com"]}, "invalid_mailboxes", None),
        (
            {"role": "professional", "mailboxes": [f"{INS}@patient.mssante.fr"]},
            "invalid_mailboxes",
            None,
        ),
        ({"role": "ops", "ins": INS}, "claim_not_allowed", None),
        ({"role": "ops", "admin": True}, "validation_error", None),
        ({"role": "root"}, "validation_error", None),
    ],
)
async def test_dev_token_requests_that_make_no_sense_are_refused(gateway, body, code, reason):
    response = await gateway.post("/v1/dev/tokens", json=body)
    problem = response.json()
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert problem["code"] == code
    assert problem.get("reason") == reason


async def test_missing_or_non_bearer_header_is_unauthenticated(gateway):
    for headers in ({}, {"Authorization": "Basic dXNlcjpwdw=="}, {"Authorization": "Bearer"}):
        response = await gateway.get(ADMIN_BAD_INS, headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["code"] == "unauthenticated"


async def test_bad_tokens_are_invalid_and_say_why(gateway, sign):
    past = int(time.time()) - 3600
    cases = {
        "expired": sign(iat=past - 60, exp=past),
        "bad_signature": sign(key="another-key-of-at-least-32-bytes-long!"),
        "wrong_audience": sign(aud="someone-else"),
        "wrong_issuer": sign(iss="https://evil.example"),
        "missing_claim": sign(exp=None),
        "malformed": "not.a.jwt",
        "bad_claims": sign(role="patient", ins="123"),
    }
    for reason, token in cases.items():
        response = await gateway.get(ADMIN_BAD_INS, headers={"Authorization": f"Bearer {token}"})
        problem = response.json()
        assert response.status_code == 401, reason
        assert response.headers["content-type"] == PROBLEM
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
        assert (problem["code"], problem["reason"]) == ("invalid_token", reason)
        assert "Traceback" not in response.text


async def test_unsigned_token_is_refused(gateway, settings):
    token = jwt.encode(
        {
            "sub": "x",
            "role": "ops",
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        },
        key=None,
        algorithm="none",
    )
    response = await gateway.get(ADMIN_BAD_INS, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.json()["reason"] == "bad_algorithm"


async def test_wrong_role_is_forbidden(gateway, dev_token):
    patient = await dev_token(gateway, role="patient", ins=INS)
    response = await gateway.get(ADMIN_BAD_INS, headers=patient)
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "forbidden_role"

    ops = await dev_token(gateway, role="ops")
    response = await gateway.get("/v1/me", headers=ops)
    assert response.status_code == 403 and response.json()["allowed_roles"] == ["patient"]


async def test_a_token_seen_before_is_not_verified_again_until_it_expires(
    gateway, gateway_app, sign
):
    verifier = gateway_app.state.token_verifier
    calls = 0
    verify = verifier.claims

    async def counting(token: str) -> dict[str, object]:
        nonlocal calls
        calls += 1
        return await verify(token)

    verifier.claims = counting
    token = sign()
    for _ in range(3):
        response = await gateway.get(ADMIN_BAD_INS, headers={"Authorization": f"Bearer {token}"})
        assert response.json()["code"] == "invalid_ins"  # accepted, then the INS refused
    assert calls == 1


def test_remembered_tokens_expire_with_the_token_and_after_the_max_age():
    from mes_gateway.auth import VerifiedTokens
    from mes_gateway.principal import Principal, Role

    now = [1_000.0]
    tokens = VerifiedTokens(leeway_seconds=30, max_age_seconds=60, clock=lambda: now[0])
    ops = Principal(role=Role.OPS, subject="ops")
    tokens.put("short", ops, {"exp": 1_010})  # expires in 10 s (+30 s leeway)
    tokens.put("long", ops, {"exp": 10_000})
    now[0] = 1_039.0
    assert tokens.get("short") is ops and tokens.get("long") is ops
    now[0] = 1_040.0  # past exp + leeway: verified again (and refused as expired)
    assert tokens.get("short") is None
    now[0] = 1_061.0  # past the max age: verified again (a withdrawn key stops working)
    assert tokens.get("long") is None
    no_cache = VerifiedTokens(leeway_seconds=30, max_age_seconds=0)
    no_cache.put("t", ops, {"exp": 10**10})
    assert no_cache.get("t") is None
