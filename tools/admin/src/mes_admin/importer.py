"""Import patient profiles through the gateway's admin API, N requests at a time.

The importer only knows the ``AdminApi`` port; ``gateway.GatewayClient`` is the HTTP adapter.
Each line ends as exactly one ``Outcome``: created, updated, rejected (the line is wrong,
locally or according to the gateway) or failed (the gateway could not be reached in time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

from .reader import LineError, PatientRecord, ReadLine

__all__ = [
    "AdminApi",
    "Answer",
    "AuthenticationFailed",
    "Importer",
    "Outcome",
    "OutcomeKind",
    "OutcomeSink",
    "RetryPolicy",
    "Unreachable",
]

# Worth another try: the gateway or a service behind it is restarting or shedding load.
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class Answer:
    """What the gateway answered; ``problem`` is the problem+json body of an error."""

    status: int
    problem: Mapping[str, Any] | None = None
    retry_after: float | None = None


class Unreachable(Exception):
    """No HTTP answer at all (connection refused or reset, timeout)."""


class AuthenticationFailed(Exception):
    """401/403: the token is missing, expired or lacks the ops role; every line would fail."""

    def __init__(self, answer: Answer) -> None:
        problem = answer.problem or {}
        detail = problem.get("detail") or problem.get("title") or "no detail"
        super().__init__(f"gateway answered {answer.status} ({problem.get('code', '?')}): {detail}")
        self.answer = answer


class AdminApi(Protocol):
    """The gateway's admin API, as far as the importer needs it."""

    async def put_patient(self, ins: str, body: Mapping[str, Any]) -> Answer:
        """``PUT /v1/admin/patients/{ins}``; raises ``Unreachable`` when nothing answers."""
        ...


class OutcomeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Outcome:
    line: int
    ins: str
    kind: OutcomeKind
    reason: str = ""
    detail: str = ""


class OutcomeSink(Protocol):
    def record(self, outcome: Outcome) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded: a line gives up after ``attempts`` tries or ``max_seconds``, whichever first."""

    attempts: int = 5
    max_seconds: float = 30.0
    initial_wait: float = 0.2
    max_wait: float = 5.0


class _Transient(Exception):
    def __init__(self, reason: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.retry_after = retry_after


def _problem_text(answer: Answer) -> tuple[str, str]:
    problem = answer.problem or {}
    code = str(problem.get("code") or f"http_{answer.status}")
    detail = problem.get("detail") or problem.get("title") or ""
    reason = problem.get("reason")
    # The identity service explains an INS it refuses (reason wrong_key...); keep that.
    if reason:
        code = f"{code}:{reason}"
    errors = problem.get("errors")
    if isinstance(errors, list) and errors:
        # "The request does not match the schema" tells the operator nothing: name the fields.
        detail = "; ".join(_field_error(error) for error in errors)
    return code, str(detail)


def _field_error(error: Any) -> str:
    if not isinstance(error, Mapping):
        return str(error)
    loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "path")]
    return f"{'.'.join(loc) or 'request'}: {error.get('msg', '')}"


class Importer:
    """Sends every valid line once (retrying transient failures) and reports each outcome."""

    def __init__(
        self,
        api: AdminApi,
        sink: OutcomeSink,
        *,
        concurrency: int = 8,
        retry: RetryPolicy | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._api = api
        self._sink = sink
        self._concurrency = concurrency
        self._retry = retry or RetryPolicy()
        # Jitter spreads the retries of N workers that failed together.
        backoff = wait_exponential(
            multiplier=self._retry.initial_wait, max=self._retry.max_wait
        ) + wait_random(0, self._retry.initial_wait)

        def wait(state: RetryCallState) -> float:
            # A 429/503 may say how long to wait; honour it, within our own bound.
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, _Transient) and error.retry_after is not None:
                return min(error.retry_after, self._retry.max_wait)
            return float(backoff(state))

        self._wait = wait

    async def run(self, lines: Iterable[ReadLine]) -> None:
        """Import ``lines``; raises ``AuthenticationFailed`` at the first 401/403.

        Lines are read lazily, at most ``2 * concurrency`` ahead, so a file of any size
        is imported in constant memory.
        """
        queue: asyncio.Queue[tuple[int, PatientRecord] | None] = asyncio.Queue(
            maxsize=2 * self._concurrency
        )

        async def feed() -> None:
            for line_no, parsed in lines:
                if isinstance(parsed, LineError):
                    self._sink.record(
                        Outcome(
                            line_no, parsed.ins, OutcomeKind.REJECTED, parsed.reason, parsed.detail
                        )
                    )
                    # Yield now and then so a file of only bad lines does not starve workers.
                    await asyncio.sleep(0)
                    continue
                await queue.put((line_no, parsed))
            for _ in range(self._concurrency):
                await queue.put(None)

        async def work() -> None:
            while (item := await queue.get()) is not None:
                self._sink.record(await self._import_one(*item))

        # TaskGroup cancels the other tasks as soon as one raises (AuthenticationFailed).
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(feed())
                for _ in range(self._concurrency):
                    group.create_task(work())
        except BaseExceptionGroup as group:
            # Report the cause, not the group: an auth failure first, else the first error
            # (e.g. the file is not UTF-8 half-way through).
            errors = group.exceptions
            auth = [e for e in errors if isinstance(e, AuthenticationFailed)]
            raise (auth or errors)[0] from None

    async def _import_one(self, line_no: int, record: PatientRecord) -> Outcome:
        try:
            answer = await self._send(record.ins, record.body())
        except _Transient as error:
            return Outcome(line_no, record.ins, OutcomeKind.FAILED, error.reason, error.detail)
        if answer.status == 201:
            return Outcome(line_no, record.ins, OutcomeKind.CREATED)
        if answer.status == 200:
            return Outcome(line_no, record.ins, OutcomeKind.UPDATED)
        if answer.status in (401, 403):
            raise AuthenticationFailed(answer)
        code, detail = _problem_text(answer)
        kind = OutcomeKind.REJECTED if 400 <= answer.status < 500 else OutcomeKind.FAILED
        return Outcome(line_no, record.ins, kind, code, detail)

    async def _send(self, ins: str, body: Mapping[str, Any]) -> Answer:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._retry.attempts)
            | stop_after_delay(self._retry.max_seconds),
            wait=self._wait,
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                try:
                    answer = await self._api.put_patient(ins, body)
                except Unreachable as error:
                    raise _Transient("unreachable", str(error)) from error
                if answer.status in TRANSIENT_STATUSES:
                    code, detail = _problem_text(answer)
                    raise _Transient(code, detail or f"HTTP {answer.status}", answer.retry_after)
                return answer
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover
