"""The HTTP adapters to identity and the directory: caching and failure mapping."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from mes_contracts.addresses import MailboxType
from mes_contracts.internal.directory import MailboxOut
from mes_contracts.internal.identity import AddressResolutionOut
from mes_conversation.adapters.directory import HttpMailboxDirectory
from mes_conversation.adapters.identity import HttpPatientResolver
from mes_conversation.domain.model import ResolutionStatus
from mes_conversation.service.ports import DependencyUnavailable

ADDRESS = "279035121518989@patient.mssante.fr"


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def _client(handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://x")


def _identity(calls: list[str], status: dict[str, str] | None = None):
    """identity's resolution endpoint: ``status["value"]`` (deliverable by default)."""
    status = status if status is not None else {"value": "deliverable"}

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        answer = AddressResolutionOut.model_validate(
            {
                "address": ADDRESS,
                "status": status["value"],
                "ins": "279035121518989",
                "display_name": "Marie D",
                "state": "activated",
                "app_installed": False,
            }
        )
        return httpx.Response(200, content=answer.model_dump_json())

    return handler


async def test_resolver_caches_deliverable_answers_only_and_briefly():
    calls: list[str] = []
    status = {"value": "deliverable"}
    clock = Clock()
    resolver = HttpPatientResolver(_client(_identity(calls, status)), cache_seconds=2, clock=clock)
    first = await resolver.resolve(ADDRESS)
    assert first.deliverable and first.display_name == "Marie D" and first.activated
    await resolver.resolve(ADDRESS)
    assert calls == [f"/internal/resolutions/{ADDRESS}"]
    clock.now = 2.5
    status["value"] = "closed"
    assert (await resolver.resolve(ADDRESS)).status is ResolutionStatus.CLOSED
    await resolver.resolve(ADDRESS)
    assert len(calls) == 3  # refusals are asked again


@pytest.mark.parametrize("failure", [500, 404, "connect"])
async def test_resolver_failures_are_dependency_unavailable(failure):
    def handler(request: httpx.Request) -> httpx.Response:
        if failure == "connect":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(failure)

    with pytest.raises(DependencyUnavailable) as err:
        await HttpPatientResolver(_client(handler)).resolve(ADDRESS)
    assert (err.value.status, err.value.code) == (503, "dependency_unavailable")


async def test_directory_entry_cached_unknown_not_cached():
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if "inconnu" in request.url.path:
            return httpx.Response(404, json={"code": "mailbox_not_found"})
        answer = MailboxOut(
            address="Pharma@Officine.mssante.fr",
            type=MailboxType.ORG,
            display_name="Pharmacie",
            pharmacy=True,
            rpps=None,
            finess="750012345",
            updated_at=datetime(2026, 1, 5, tzinfo=UTC),
        )
        return httpx.Response(200, content=answer.model_dump_json())

    directory = HttpMailboxDirectory(_client(handler), cache_seconds=30, clock=Clock())
    directory.watched = lambda: True
    entry = await directory.get("pharma@officine.mssante.fr")
    assert entry is not None
    assert (entry.address, entry.type, entry.is_pharmacy_mailbox) == (
        "pharma@officine.mssante.fr",
        MailboxType.ORG,
        True,
    )
    await directory.get("pharma@officine.mssante.fr")
    assert await directory.get("inconnu@officine.mssante.fr") is None
    assert await directory.get("inconnu@officine.mssante.fr") is None
    assert len(calls) == 3


async def test_directory_keeps_entries_longer_only_while_its_changes_are_received():
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        answer = MailboxOut(
            address="pharma@officine.mssante.fr",
            type=MailboxType.ORG,
            display_name="Pharmacie",
            pharmacy=True,
            rpps=None,
            finess="750012345",
            updated_at=datetime(2026, 1, 5, tzinfo=UTC),
        )
        return httpx.Response(200, content=answer.model_dump_json())

    clock = Clock()
    directory = HttpMailboxDirectory(
        _client(handler), cache_seconds=3600, unwatched_cache_seconds=2, clock=clock
    )
    await directory.get("pharma@officine.mssante.fr")
    clock.now = 3
    await directory.get("pharma@officine.mssante.fr")
    assert len(calls) == 2  # not watched: a renaming published meanwhile would be missed
    directory.watched = lambda: True
    clock.now = 10
    await directory.get("pharma@officine.mssante.fr")
    clock.now = 600
    await directory.get("pharma@officine.mssante.fr")
    assert len(calls) == 3  # watched: kept, the events refresh it
    directory.forget_all()  # the subscription came live, or the connection was lost or back
    await directory.get("pharma@officine.mssante.fr")
    assert len(calls) == 4


async def test_directory_unreadable_or_failing_is_dependency_unavailable():
    for response in (httpx.Response(503), httpx.Response(200, json={"address": "nope"})):
        directory = HttpMailboxDirectory(_client(lambda r, resp=response: resp))
        with pytest.raises(DependencyUnavailable):
            await directory.get("a@b.mssante.fr")


async def test_resolver_keeps_answers_longer_only_while_changes_are_received():
    calls: list[str] = []
    clock = Clock()
    resolver = HttpPatientResolver(
        _client(_identity(calls)), cache_seconds=60, unwatched_cache_seconds=2, clock=clock
    )
    await resolver.resolve(ADDRESS)
    clock.now = 3
    await resolver.resolve(ADDRESS)
    assert len(calls) == 2  # not watched: 2 s
    resolver.watched = lambda: True
    clock.now = 10
    await resolver.resolve(ADDRESS)
    clock.now = 60
    await resolver.resolve(ADDRESS)
    assert len(calls) == 3  # watched: 60 s
    resolver.forget(ADDRESS)  # the patient's profile changed
    await resolver.resolve(ADDRESS)
    assert len(calls) == 4
    resolver.forget_all()  # NATS connection lost or back
    await resolver.resolve(ADDRESS)
    assert len(calls) == 5


async def test_an_answer_asked_before_a_change_is_not_kept():
    calls: list[str] = []
    answer = _identity(calls)
    resolver: HttpPatientResolver

    def changed_meanwhile(request: httpx.Request) -> httpx.Response:
        resolver.forget(ADDRESS)  # the change is heard while identity's answer travels
        return answer(request)

    resolver = HttpPatientResolver(_client(changed_meanwhile), cache_seconds=60)
    resolver.watched = lambda: True
    await resolver.resolve(ADDRESS)
    await resolver.resolve(ADDRESS)
    assert len(calls) == 2
