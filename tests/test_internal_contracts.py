"""Both sides of every internal call are tied by one type, and what the gateway relays from an
internal answer is still in that answer.

If a service's route declared a model of its own, the gateway (or another service) could send
or read a shape the route no longer has, and only a message refused in production would tell.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

from mes_contracts.events.parties import AttachmentRef
from mes_contracts.internal import conversation, directory, identity, mailbox, pharmacies
from mes_gateway import messaging_schemas as public
from mes_gateway import pharmacy_schemas as public_pharmacies
from mes_gateway import schemas as public_profiles
from mes_platform import names

from .apps import SERVICES

# The reference to a stored attachment is the events' own type, which the upload answers.
SHARED_ELSEWHERE: frozenset[type[BaseModel]] = frozenset({AttachmentRef})


def _is_model(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _internal_routes() -> Iterator[tuple[str, APIRoute]]:
    for service, create_app in SERVICES.items():
        for route in create_app().routes:
            if isinstance(route, APIRoute) and route.path.startswith("/internal"):
                yield service, route


def _models_of(route: APIRoute) -> list[tuple[str, type[BaseModel]]]:
    """The models a route reads from its body and declares as its answer."""
    hints = typing.get_type_hints(route.endpoint)
    found = [
        (f"body {name}", hint)
        for name, hint in hints.items()
        if name != "return" and _is_model(hint)
    ]
    if _is_model(route.response_model):
        found.append(("answer", route.response_model))
    return found


ROUTES = list(_internal_routes())


def test_every_service_serves_internal_routes_that_declare_models():
    declared = {service for service, route in ROUTES if _models_of(route)}
    assert {"identity", "mailbox", "conversation", "pharmacy-directory"} <= declared


@pytest.mark.parametrize(
    ("service", "route"),
    ROUTES,
    ids=[f"{service} {sorted(r.methods)[0]} {r.path}" for service, r in ROUTES],
)
def test_internal_route_models_come_from_the_contracts(service: str, route: APIRoute):
    for role, model in _models_of(route):
        assert model.__module__.startswith("mes_contracts.internal.") or (
            model in SHARED_ELSEWHERE
        ), f"{service} {route.path}: the {role} model {model.__qualname__} is private"


def _fields(model: type[BaseModel]) -> dict[str, object]:
    return {field.alias or name: field.annotation for name, field in model.model_fields.items()}


def _nested(annotation: object) -> type[BaseModel] | None:
    """The model inside ``X``, ``X | None`` or ``list[X]``, if any."""
    if _is_model(annotation):
        return typing.cast(type[BaseModel], annotation)
    for arg in typing.get_args(annotation):
        inner = _nested(arg)
        if inner is not None:
            return inner
    return None


def _missing(public_model: type[BaseModel], answer: type[BaseModel], path: str) -> list[str]:
    """The public model's fields that the internal answer does not carry (recursively)."""
    answer_fields = _fields(answer)
    missing = []
    for name, annotation in _fields(public_model).items():
        if name not in answer_fields:
            missing.append(path + name)
            continue
        public_inner, answer_inner = _nested(annotation), _nested(answer_fields[name])
        if public_inner is not None and answer_inner is not None:
            missing += _missing(public_inner, answer_inner, f"{path}{name}.")
    return missing


# What the gateway answers, each from the internal answer it reads; ``added`` are the fields
# the gateway fills itself.
RELAYED = [
    (public.MessageSendOut, conversation.AdmissionOut, set()),
    (public.ConversationOut, conversation.ConversationView, {"unread_count"}),
    (public.ConversationOut, conversation.MailboxConversationView, {"unread_count"}),
    # A pharmacy's FINESS comes with the default pharmacies, from the directory.
    (public.ContactList, conversation.ContactsOut, {"items.finess"}),
    (public.MessageList, mailbox.MessagePageOut, set()),
    (public.MessageDetail, mailbox.MessageOut, set()),
    (public.ReadOut, mailbox.ReadOut, set()),
    (public.AttachmentOut, AttachmentRef, set()),
    (public.DirectoryEntryOut, directory.MailboxOut, set()),
    (public_profiles.PatientProfile, identity.PatientProfileOut, set()),
    (public_profiles.AddressResolution, identity.AddressResolutionOut, set()),
]


@pytest.mark.parametrize(
    ("public_model", "answer", "added"),
    RELAYED,
    ids=[f"{p.__name__}<-{a.__name__}" for p, a, _ in RELAYED],
)
def test_what_the_gateway_relays_is_in_the_internal_answer(
    public_model: type[BaseModel], answer: type[BaseModel], added: set[str]
):
    assert set(_missing(public_model, answer, "")) == added


# What the gateway sends, each from the public request it accepted.
SENT = [
    (public.MessageSendIn, conversation.HealthActorMessageIn, {"attachment_ids"}),
    (public.PatientMessageIn, conversation.PatientReplyIn, {"attachment_ids"}),
    (public.PatientNewConversationIn, conversation.PatientStartIn, {"attachment_ids"}),
    (public.DirectoryEntryIn, directory.MailboxIn, set()),
    (public_pharmacies.PharmacyBatchIn, pharmacies.PharmacyBatchIn, set()),
    (public_pharmacies.DispensationsIn, pharmacies.DispensationsIn, set()),
    (public_profiles.PatientUpsert, identity.PatientProfileIn, set()),
]


@pytest.mark.parametrize(
    ("public_model", "request_model", "resolved"),
    SENT,
    ids=[f"{p.__name__}->{r.__name__}" for p, r, _ in SENT],
)
def test_what_a_caller_sends_reaches_the_internal_request(
    public_model: type[BaseModel], request_model: type[BaseModel], resolved: set[str]
):
    """Every field of the public request has its place in the internal one, but those the
    gateway resolves first (attachment ids into their references)."""
    assert set(_fields(public_model)) - set(_fields(request_model)) == resolved


def test_the_contracts_keep_names_as_long_as_the_services_do():
    """The contracts stand alone (an editor installs them without the platform), so they carry
    the limit themselves: the same as the one the services check names against."""
    assert identity.NAME_MAX_LENGTH == names.NAME_MAX_LENGTH
