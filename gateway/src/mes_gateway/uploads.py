"""A caller's file, streamed on to the mailbox service in a multipart form written here, and
a stored file streamed back to the caller.

The form is written by hand so that the file's name arrives as the caller gave it (httpx writes
a quote in a name as ``%22``, which no parser decodes), and the file is streamed, never read
whole: an upload may be 25 Mo.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import AsyncIterator

import httpx
from fastapi import UploadFile
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from .deps import idempotency_headers
from .errors import ServiceUnavailable
from .services import ServiceClients, raise_for_problem

__all__ = ["file_size", "stream_to_mailbox"]

_CHUNK = 64 * 1024
_UNKNOWN_TYPE = "application/octet-stream"


def _quoted(value: str) -> str:
    """``value`` as a quoted-string parameter the way multipart/form-data parsers read one
    back: a backslash before a backslash or a quote. Control characters have no place in a
    header line, and the mailbox drops them from names anyway."""
    text = "".join(ch for ch in value if unicodedata.category(ch)[0] != "C")
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _printable(value: str) -> bool:
    return all(" " <= ch <= "~" for ch in value)


async def _form(head: bytes, file: UploadFile, tail: bytes) -> AsyncIterator[bytes]:
    yield head
    await file.seek(0)
    while chunk := await file.read(_CHUNK):
        yield chunk
    yield tail


def file_size(file: UploadFile) -> int:
    """The uploaded file's size, without reading it."""
    if file.size is not None:
        return file.size
    position = file.file.tell()
    size = file.file.seek(0, os.SEEK_END)
    file.file.seek(position)
    return size


async def stream_to_mailbox(
    services: ServiceClients,
    path: str,
    *,
    owner: str,
    file: UploadFile,
    default_name: str,
    key: str | None,
    pass_content_type: bool,
) -> httpx.Response:
    """POST ``file`` with its ``owner`` to the mailbox's ``path``; the mailbox keeps the
    Idempotency-Key with what it stores. The mailbox decides the type by the content; the
    caller's declared type is passed on only where ``pass_content_type`` (and printable)."""
    boundary = os.urandom(16).hex()
    content_type = (file.content_type or "") if pass_content_type else ""
    if not content_type or not _printable(content_type):
        content_type = _UNKNOWN_TYPE
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="owner"\r\n\r\n'
        f"{owner}\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; '
        f'filename="{_quoted(file.filename or default_name)}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    try:
        response = await services.client("mailbox").post(
            path,
            content=_form(head, file, tail),
            headers={
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(head) + file_size(file) + len(tail)),
                **idempotency_headers(key),
            },
        )
    except httpx.TransportError as exc:
        raise ServiceUnavailable("mailbox") from exc
    raise_for_problem("mailbox", response)
    return response


# What a download passes on of the mailbox's answer.
_FORWARDED = ("content-type", "content-length", "content-disposition", "x-content-type-options")


async def download_from_mailbox(
    services: ServiceClients, path: str, params: dict[str, str], *, missing_is_none: bool = False
) -> StreamingResponse | None:
    """The mailbox's file at ``path``, streamed to the caller with its type, length and
    disposition; a problem answer is raised as the mailbox's problem (a 404 gives None instead
    with ``missing_is_none``: the caller looks elsewhere)."""
    client = services.client("mailbox")
    request = client.build_request("GET", path, params=params)
    try:
        response = await client.send(request, stream=True)
    except httpx.TransportError as exc:
        raise ServiceUnavailable("mailbox") from exc
    if response.status_code == 404 and missing_is_none:
        await response.aclose()
        return None
    if response.status_code >= 400:
        await response.aread()
        await response.aclose()
        raise_for_problem("mailbox", response)
    headers = {k: v for k, v in response.headers.items() if k.lower() in _FORWARDED}
    return StreamingResponse(
        response.aiter_raw(),
        status_code=200,
        headers=headers,
        background=BackgroundTask(response.aclose),
    )
