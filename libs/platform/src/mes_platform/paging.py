"""The page cursor every list takes: one limit, one problem for a cursor that cannot be."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from .errors import InvalidCursor

__all__ = ["MAX_CURSOR_LENGTH", "Cursor", "page_cursor"]

# Longer than any cursor a service issues (about 100 characters), short enough to bound the
# work a forged one costs.
MAX_CURSOR_LENGTH = 512


async def page_cursor(
    cursor: Annotated[
        str | None,
        Query(
            description="The `next_cursor` of the previous page; omit it for the first page. "
            f"At most {MAX_CURSOR_LENGTH} characters; any other value is refused "
            "(422 `invalid_cursor`).",
            # Documented here, checked below: a cursor too long is a bad cursor like any
            # other (`invalid_cursor`), not a malformed request.
            json_schema_extra={"maxLength": MAX_CURSOR_LENGTH},
        ),
    ] = None,
) -> str | None:
    if cursor is not None and len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor()
    return cursor or None


Cursor = Annotated[str | None, Depends(page_cursor)]
