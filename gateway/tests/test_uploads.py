"""Uploads: one file per request, refused with a code that says what to change, and its name
arriving at the mailbox service as the caller gave it (the mailbox here is a FastAPI app that
reads the form as the real one does)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, File, Form, UploadFile

from mes_gateway.main import create_app

CLAIRE = "claire.martin@hopital-exemple.mssante.fr"
INS = "279035121518989"


def _mailbox(received: list[dict[str, Any]]) -> FastAPI:
    app = FastAPI()

    @app.post("/internal/attachments", status_code=201)
    async def upload(
        file: Annotated[UploadFile, File()], owner: Annotated[str, Form()]
    ) -> dict[str, Any]:
        data = await file.read()
        received.append({"owner": owner, "filename": file.filename, "data": data})
        return {
            "id": "a-1",
            "filename": file.filename,
            "content_type": "text/plain",
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    return app


@pytest.fixture
def received() -> list[dict[str, Any]]:
    return []


@pytest.fixture
async def client(settings, received) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, transports={"mailbox": httpx.ASGITransport(app=_mailbox(received))})
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as client,
    ):
        yield client


@pytest.fixture
async def pro(client, dev_token) -> dict[str, str]:
    return await dev_token(client, role="professional", mailboxes=[CLAIRE])


@pytest.fixture
async def patient(client, dev_token) -> dict[str, str]:
    return await dev_token(client, role="patient", ins=INS)


def _form(*parts: bytes, boundary: str = "XbndX") -> tuple[dict[str, str], bytes]:
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts)
    body += b"--" + boundary.encode() + b"--\r\n"
    return {"Content-Type": f"multipart/form-data; boundary={boundary}"}, body


def _file_part(disposition: str, data: bytes = b"hello") -> bytes:
    return (
        f"Content-Disposition: form-data; {disposition}\r\n".encode()
        + b"Content-Type: text/plain\r\n\r\n"
        + data
    )


ROUTES = ["/v1/attachments", "/v1/me/attachments"]


async def _post(client, route, headers, pro, patient, **kwargs):
    who = pro if route == "/v1/attachments" else patient
    return await client.post(route, headers={**who, **headers}, **kwargs)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("parts", "code"),
    [
        ([_file_part('name="file"')], "file_part_not_a_file"),  # a plain form field
        ([_file_part("name=\"file\"; filename*=UTF-8''r%C3%A9sultat.txt")], "file_part_not_a_file"),
        (
            [_file_part('name="file"; filename="a.txt"'), _file_part('name="file"; filename="b"')],
            "one_file_per_upload",
        ),
        ([_file_part('name="fichier"; filename="a.txt"')], "file_required"),
        ([], "file_required"),
    ],
)
async def test_a_form_without_exactly_one_file_says_what_to_change(
    client, pro, patient, received, route, parts, code
):
    headers, body = _form(*parts)
    response = await _post(client, route, headers, pro, patient, content=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert "class" not in response.text and "UploadFile" not in response.text
    assert received == []


@pytest.mark.parametrize("route", ROUTES)
async def test_a_json_body_is_no_file(client, pro, patient, route):
    response = await _post(client, route, {}, pro, patient, json={"file": "hello"})
    assert response.status_code == 422 and response.json()["code"] == "file_required"


async def test_the_token_is_checked_before_the_form(client):
    headers, body = _form(_file_part('name="file"'))
    response = await client.post("/v1/attachments", headers=headers, content=body)
    assert response.status_code == 401


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "name",
    [
        'rapport "final".txt',
        "a\\b.txt",
        'fin\\".txt',
        "résultat d'analyse.txt",
        "a;b=c, d.txt",
        "%22déjà%22.txt",
        "日本語.txt",
    ],
)
async def test_the_file_name_arrives_as_given(client, pro, patient, received, route, name):
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    headers, body = _form(_file_part(f'name="file"; filename="{escaped}"'))
    response = await _post(client, route, headers, pro, patient, content=body)
    assert response.status_code == 201, response.text
    assert received[0]["filename"] == name
    assert response.json()["filename"] == name


async def test_the_bytes_and_the_owner_arrive_whole(client, pro, received):
    data = bytes(range(256)) * 8192  # 2 MiB, every byte value, past the in-memory spool
    response = await client.post(
        "/v1/attachments",
        headers=pro,
        files={"file": ("scan.bin", data, "application/octet-stream")},
        data={"mailbox": CLAIRE.upper()},
    )
    assert response.status_code == 201, response.text
    assert received[0]["data"] == data
    assert received[0]["owner"] == CLAIRE
    assert response.json()["sha256"] == hashlib.sha256(data).hexdigest()


async def test_control_characters_of_a_name_never_reach_a_header(client, pro, received):
    headers, body = _form(_file_part('name="file"; filename="a\x01b\x7fc\x85.txt"'))
    response = await client.post("/v1/attachments", headers={**pro, **headers}, content=body)
    assert response.status_code == 201, response.text
    assert received[0]["filename"] == "abc.txt"
