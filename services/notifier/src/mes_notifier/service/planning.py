"""What to do with the notifications a sender claimed: render e-mails, group a patient's new
messages, or record why one cannot be sent.

Rules, on claimed rows, in one transaction: a patient's new messages wait for the end of the
grouping window after the last e-mail to that patient, then go together; a notification whose
recipient is not known yet waits (``contact_grace``) for the profile or the directory entry
to arrive, then is recorded as not notifiable; a profile without contact e-mail is not
notifiable at once. Nothing here sends.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from mes_contracts.addresses import MailboxType
from mes_contracts.events.identity import PatientState
from mes_contracts.internal.notifier import NotificationKind, NotificationState
from mes_contracts.nondelivery import NonDeliveryReason

from ..domain import emails
from ..domain.emails import MailIdentity, OutgoingEmail
from ..domain.notifications import Notification, PatientContact, wants_app_notification
from .intake import AppNotice, app_notifications
from .metrics import NOTIFICATIONS
from .ports import NotifierRepository, NotifierUnitOfWork

__all__ = ["Job", "PlanRules", "defer_to_windows", "plan"]


@dataclass(frozen=True, slots=True)
class PlanRules:
    group_window: timedelta
    contact_grace: timedelta
    recheck: timedelta  # how soon a notification waiting for its recipient is looked at again


@dataclass(slots=True)
class Job:
    """One e-mail or one push, standing for one or more notifications."""

    ids: list[str]
    kind: NotificationKind
    recipient: str
    created_at: datetime
    lease_until: datetime
    attempts: int = 0
    triggers: list[str] = field(default_factory=list)  # the events that caused each one
    email: OutgoingEmail | None = None
    push_token: str | None = None
    device_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    patient_ins: str | None = None


async def _give_up(
    repo: NotifierRepository, rows: list[dict[str, Any]], state: NotificationState, why: str
) -> None:
    await repo.record([r["id"] for r in rows], state, attempted=False, error=why)
    for r in rows:
        NOTIFICATIONS.labels(r["kind"], state.value).inc()


async def _wait_for_recipient(
    repo: NotifierRepository,
    rows: list[dict[str, Any]],
    now: datetime,
    rules: PlanRules,
    why: str,
) -> None:
    """The recipient may still arrive by its own event; after the grace, not notifiable."""
    if now - min(r["created_at"] for r in rows) >= rules.contact_grace:
        await _give_up(repo, rows, NotificationState.NOT_NOTIFIABLE, why)
    else:
        await repo.record(
            [r["id"] for r in rows],
            NotificationState(rows[0]["state"]),
            attempted=False,
            next_attempt_at=now + rules.recheck,
        )


def _job(rows: list[dict[str, Any]], recipient: str, **kw: Any) -> Job:
    return Job(
        ids=[r["id"] for r in rows],
        kind=NotificationKind(rows[0]["kind"]),
        recipient=recipient,
        created_at=min(r["created_at"] for r in rows),
        lease_until=min(r["lease_until"] for r in rows),
        attempts=max(r["attempts"] for r in rows),
        triggers=[r["trigger_event_id"] for r in rows],
        **kw,
    )


async def _late_app_notifications(uow: NotifierUnitOfWork, rows: list[dict[str, Any]]) -> None:
    """The app's entries and pushes of messages that came before the patient's profile."""
    notices = [
        AppNotice(
            row["trigger_event_id"], row["created_at"], row["target"], row["data"]["message_id"]
        )
        for row in rows
        if row["data"].get("app", False) is None
    ]
    pushes = await app_notifications(uow.repo, notices)
    if pushes:
        await uow.repo.add(pushes)
        uow.queued()


async def _patients(
    uow: NotifierUnitOfWork,
    groups: dict[str, list[dict[str, Any]]],
    identity: MailIdentity,
    now: datetime,
    rules: PlanRules,
    known: Mapping[str, PatientContact] | None,
    known_windows: Mapping[str, datetime | None] | None,
) -> list[Job]:
    repo = uow.repo
    jobs = []
    if known_windows is not None and all(ins in known_windows for ins in groups):
        windows: Mapping[str, datetime | None] = known_windows
    else:
        windows = await repo.windows(groups) if rules.group_window and groups else {}
    batches = [
        (ins, chunk)
        for ins, rows in groups.items()
        for chunk in ([rows] if rules.group_window else [[r] for r in rows])
    ]
    if known is not None and all(ins in known for ins in groups):
        contacts: Mapping[str, PatientContact] = known
    else:
        contacts = await repo.contacts(groups) if groups else {}
    for ins, rows in batches:
        last = windows.get(ins)
        if last is not None and now < last + rules.group_window:
            await repo.record(
                [r["id"] for r in rows],
                NotificationState(rows[0]["state"]),
                attempted=False,
                next_attempt_at=last + rules.group_window,
            )
            continue
        contact = contacts.get(ins)
        if contact is not None and wants_app_notification(contact):
            await _late_app_notifications(uow, rows)
        if contact is None:
            await _wait_for_recipient(repo, rows, now, rules, "no patient profile known")
        elif contact.state in (PatientState.OPPOSED, PatientState.CLOSED):
            await _give_up(
                repo, rows, NotificationState.NOT_NOTIFIABLE, f"profile {contact.state.value}"
            )
        elif not contact.email:
            await _give_up(
                repo, rows, NotificationState.NOT_NOTIFIABLE, "the profile has no contact e-mail"
            )
        else:
            mail = emails.patient_new_messages(
                identity, to=contact.email, count=len(rows), notification_id=rows[0]["id"], now=now
            )
            jobs.append(_job(rows, contact.email, email=mail, patient_ins=ins))
    return jobs


async def _single(
    repo: NotifierRepository,
    row: dict[str, Any],
    identity: MailIdentity,
    now: datetime,
    rules: PlanRules,
) -> Job | None:
    kind = NotificationKind(row["kind"])
    data = row["data"]
    target = row["target"]
    if kind is NotificationKind.READ_RECEIPT:
        mail = emails.read_receipt(
            identity,
            to=target,
            reader=data["reader"],
            message_id=data["message_id"],
            read_at=datetime.fromisoformat(data["read_at"]),
            notification_id=row["id"],
            now=now,
        )
        return _job([row], target, email=mail)
    if kind is NotificationKind.NON_DELIVERY:
        mail = emails.non_delivery_report(
            identity,
            to=target,
            recipient=data["recipient_address"],
            message_id=data["message_id"],
            reason=NonDeliveryReason(data["reason"]),
            report_text=data["report_text"],
            bounced_at=datetime.fromisoformat(data["bounced_at"]),
            notification_id=row["id"],
            now=now,
        )
        return _job([row], target, email=mail)
    if kind is NotificationKind.PHARMACY_ALERT:
        entry = await repo.mailbox(target)
        if entry is None:
            await _wait_for_recipient(repo, [row], now, rules, "mailbox not in the directory")
            return None
        type_, alert_email = entry
        if type_ != MailboxType.ORG.value or not alert_email:
            await _give_up(
                repo, [row], NotificationState.NOT_NOTIFIABLE, "no alert e-mail in the directory"
            )
            return None
        mail = emails.pharmacy_alert(
            identity, to=alert_email, mailbox=target, notification_id=row["id"], now=now
        )
        return _job([row], alert_email, email=mail)
    if kind is NotificationKind.PUSH_NEW_MESSAGE:
        device = await repo.device(target)
        if device is None:
            await _give_up(repo, [row], NotificationState.NOT_NOTIFIABLE, "device removed")
            return None
        return _job([row], target, push_token=device["token"], device_id=target, data=data)
    await _give_up(repo, [row], NotificationState.FAILED, f"unknown kind {kind}")
    return None


async def plan(
    uow: NotifierUnitOfWork,
    rows: list[dict[str, Any]],
    identity: MailIdentity,
    now: datetime,
    rules: PlanRules,
    contacts: Mapping[str, PatientContact] | None = None,
    windows: Mapping[str, datetime | None] | None = None,
) -> list[Job]:
    """The jobs for claimed ``rows`` (their ``data`` decoded); the rows that cannot be sent
    now are recorded so. ``contacts``: the patients' profiles as the same transaction read
    them already, if it did (a patient missing from them is read here); ``windows``: the same
    for the patients' last e-mails (:func:`defer_to_windows`)."""
    repo = uow.repo
    patients: dict[str, list[dict[str, Any]]] = defaultdict(list)
    jobs: list[Job] = []
    for row in rows:
        if row["kind"] == NotificationKind.PATIENT_NEW_MESSAGE.value:
            patients[row["target"]].append(row)
            continue
        try:
            job = await _single(repo, row, identity, now, rules)
        except (KeyError, ValueError) as exc:  # a row that cannot be rendered never will be
            await _give_up(repo, [row], NotificationState.FAILED, f"cannot render: {exc!r}")
            continue
        if job is not None:
            jobs.append(job)
    return await _patients(uow, patients, identity, now, rules, contacts, windows) + jobs


async def defer_to_windows(
    repo: NotifierRepository,
    items: Sequence[Notification],
    now: datetime,
    rules: PlanRules,
) -> tuple[list[Notification], list[Notification], dict[str, datetime | None]]:
    """Before new notifications are queued: those of patients whose grouping window is open
    (an e-mail went less than the window ago) set to wait for its end, where the queue's poll
    finds them, rather than claimed now and put back; the others, to claim; and the patients'
    last e-mails as read, None for none (for :func:`plan`, that does not read them again)."""
    patients = {n.target for n in items if n.kind is NotificationKind.PATIENT_NEW_MESSAGE}
    if not rules.group_window or not patients:
        return list(items), [], {}
    windows = await repo.windows(patients)
    now_claimed: list[Notification] = []
    waiting: list[Notification] = []
    for n in items:
        last = windows.get(n.target) if n.kind is NotificationKind.PATIENT_NEW_MESSAGE else None
        if last is not None and now < last + rules.group_window:
            waiting.append(replace(n, not_before=last + rules.group_window))
        else:
            now_claimed.append(n)
    return now_claimed, waiting, {ins: windows.get(ins) for ins in patients}
