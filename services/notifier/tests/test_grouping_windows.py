"""A new message for a patient whose grouping window is open is written waiting for the
window's end, never claimed (nor e-mailed) at once; the others are claimed, and the windows
read are handed to the planning so that it does not read them again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from mes_contracts.internal.notifier import NotificationKind
from mes_notifier.domain.notifications import Notification
from mes_notifier.service.planning import PlanRules, defer_to_windows

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
RULES = PlanRules(
    group_window=timedelta(seconds=3), contact_grace=timedelta(seconds=5), recheck=timedelta(1)
)


class Repo:
    """The patients' last e-mails, and the questions asked of them."""

    def __init__(self, last: dict[str, datetime]) -> None:
        self.last = last
        self.asked: list[set[str]] = []

    async def windows(self, ins: Any) -> dict[str, datetime]:
        self.asked.append(set(ins))
        return {p: self.last[p] for p in ins if p in self.last}


def _new(
    target: str, kind: NotificationKind = NotificationKind.PATIENT_NEW_MESSAGE
) -> Notification:
    return Notification(
        id=f"ntf-{target}-{kind.value}",
        kind=kind,
        channel="email",
        target=target,
        trigger_event_id=f"evt-{target}",
        created_at=NOW,
    )


async def test_an_open_window_makes_the_message_wait_for_its_end() -> None:
    repo = Repo(
        {"in-window": NOW - timedelta(seconds=1), "window-over": NOW - timedelta(seconds=4)}
    )
    items = [
        _new("in-window"),
        _new("window-over"),
        _new("never-mailed"),
        _new("dr@hopital.mssante.fr", NotificationKind.READ_RECEIPT),
    ]
    claim, waiting, windows = await defer_to_windows(repo, items, NOW, RULES)  # type: ignore[arg-type]
    assert [n.target for n in waiting] == ["in-window"]
    assert waiting[0].not_before == NOW + timedelta(seconds=2)  # the window's end
    assert [n.target for n in claim] == ["window-over", "never-mailed", "dr@hopital.mssante.fr"]
    # One question for the patients of the batch; their answers, a missing one included, go on.
    assert repo.asked == [{"in-window", "window-over", "never-mailed"}]
    assert windows == {
        "in-window": NOW - timedelta(seconds=1),
        "window-over": NOW - timedelta(seconds=4),
        "never-mailed": None,
    }


async def test_without_a_window_nothing_waits_and_nothing_is_asked() -> None:
    repo = Repo({"p": NOW - timedelta(seconds=1)})
    rules = PlanRules(group_window=timedelta(0), contact_grace=timedelta(5), recheck=timedelta(1))
    claim, waiting, windows = await defer_to_windows(repo, [_new("p")], NOW, rules)  # type: ignore[arg-type]
    assert [n.target for n in claim] == ["p"] and waiting == [] and windows == {}
    assert repo.asked == []
