"""The gateway's side of the internal calls: request models built from what the caller sent,
answers read into the models of :mod:`mes_contracts.internal` that the called route declares.

A request the called service's model would refuse is refused here as the service would have
(422 ``validation_error``); an answer that is not its contract's model is the service's fault,
a 503 ``service_unavailable`` naming it: neither is ever a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import httpx
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from .errors import ServiceUnavailable

__all__ = ["answer_of", "refused_as_invalid"]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


@contextmanager
def refused_as_invalid() -> Iterator[None]:
    """Around the building of an internal request model from the caller's body."""
    try:
        yield
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from exc


def answer_of(model: type[M], service: str, answer: httpx.Response) -> M:
    """``answer``'s body read, in one pass from its bytes, into its contract ``model``."""
    try:
        return model.model_validate_json(answer.content)
    except ValidationError as exc:
        log.error(
            "service answered off its contract",
            extra={"upstream": service, "model": model.__name__, "errors": exc.error_count()},
        )
        raise ServiceUnavailable(service) from exc
