"""The importer and the CLI against an in-process stand-in for the gateway's admin API.

The stand-in (an ``httpx.MockTransport``) answers as the gateway documents: 201 created,
200 updated, 422 problem+json, 401 without the right token, 404 for /v1/dev/tokens in
production; it can be told to fail transiently. The real gateway is in test_real_stack.py.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from mes_admin.cli import main
from mes_admin.gateway import GatewayClient
from mes_admin.importer import AuthenticationFailed, Importer, Outcome, OutcomeKind, RetryPolicy
from mes_admin.reader import InputFormat, read_records
from mes_contracts.ins import InsError, ins_key, validate_ins

FAST_RETRY = RetryPolicy(attempts=3, max_seconds=5, initial_wait=0.001, max_wait=0.01)
HEADER = "ins,state,birth_name,first_names,display_name,email,app_installed\n"


def make_ins(n: int) -> str:
    nir = f"1{n:012d}"
    return nir + ins_key(nir)


def problem(status: int, code: str, detail: str, **extra: Any) -> httpx.Response:
    return httpx.Response(
        status,
        json={"code": code, "detail": detail, **extra},
        headers={"content-type": "application/problem+json"},
    )


class StandInGateway:
    """What the gateway's admin routes answer, kept in memory."""

    def __init__(self, *, token: str = "good", dev_tokens: bool = True) -> None:
        self.token = token
        self.dev_tokens = dev_tokens
        self.patients: dict[str, dict[str, Any]] = {}
        self.failures: dict[str, list[int | type[Exception]]] = {}  # ins -> scripted answers
        self.puts = 0
        self.in_flight = 0
        self.max_in_flight = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/dev/tokens" and request.method == "POST":
            if not self.dev_tokens:
                return problem(404, "not_found", "Not found")
            assert json.loads(request.content) == {"role": "ops"}
            return httpx.Response(200, json={"access_token": self.token, "token_type": "bearer"})
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return problem(401, "unauthenticated", "A valid bearer token is required.")
        if path.startswith("/v1/admin/patients/") and request.method == "PUT":
            return await self._put(path.rsplit("/", 1)[1], json.loads(request.content))
        if path.startswith("/v1/admin/addresses/") and path.endswith("/resolution"):
            ins = path.split("/")[4].split("@")[0]
            found = self.patients.get(ins)
            status = "deliverable" if found and found["state"] != "closed" else "not_found"
            return httpx.Response(200, json={"address": path.split("/")[4], "status": status})
        return problem(404, "not_found", "Not found")

    async def _put(self, ins: str, body: dict[str, Any]) -> httpx.Response:
        self.puts += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.001)
            scripted = self.failures.get(ins)
            if scripted:
                answer = scripted.pop(0)
                if isinstance(answer, type):
                    raise answer("scripted connection failure")
                return problem(
                    answer,
                    "unavailable",
                    "Try again later.",
                    **({"retry_after": 0} if answer == 429 else {}),
                )
            try:
                validate_ins(ins)
            except InsError as error:
                return problem(422, "invalid_ins", error.detail, reason=error.reason.value)
            if body["email"].endswith("@refused.example"):
                return problem(
                    422,
                    "validation_error",
                    "Invalid request",
                    errors=[{"loc": ["body", "email"], "msg": "domain refused"}],
                )
            created = ins not in self.patients
            self.patients[ins] = body
            return httpx.Response(201 if created else 200, json={"ins": ins, **body})
        finally:
            self.in_flight -= 1


class Collected:
    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def record(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def kinds(self) -> dict[int, str]:
        return {o.line: o.kind.value for o in self.outcomes}


def csv_text(count: int, start: int = 0, email: str = "p{n}@example.fr") -> str:
    rows = [
        f"{make_ins(n)},created,NOM{n},Prénom,,{email.format(n=n)},non"
        for n in range(start, start + count)
    ]
    return HEADER + "\n".join(rows) + "\n"


async def run_import(
    gateway: StandInGateway, text: str, *, concurrency: int = 8, token: str = "good"
) -> Collected:
    sink = Collected()
    transport = httpx.MockTransport(gateway)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gw", headers={"Authorization": f"Bearer {token}"}
    ) as http:
        importer = Importer(GatewayClient(http), sink, concurrency=concurrency, retry=FAST_RETRY)
        await importer.run(read_records(io.StringIO(text, newline=""), InputFormat.CSV))
    return sink


async def test_imports_every_line_then_a_replay_only_updates() -> None:
    gateway = StandInGateway()
    first = await run_import(gateway, csv_text(40))
    assert set(first.kinds().values()) == {"created"} and len(first.outcomes) == 40
    assert gateway.patients[make_ins(3)]["app_installed"] is False
    again = await run_import(gateway, csv_text(40))
    assert set(again.kinds().values()) == {"updated"}
    # N requests in flight at once, never more.
    assert gateway.max_in_flight == 8


async def test_lines_the_gateway_refuses_are_reported_and_the_rest_imported() -> None:
    gateway = StandInGateway()
    text = csv_text(3) + f"{make_ins(9)},created,X,Y,,x@refused.example,\n"
    outcomes = await run_import(gateway, text)
    refused = [o for o in outcomes.outcomes if o.kind is OutcomeKind.REJECTED]
    assert [(o.line, o.ins, o.reason) for o in refused] == [(5, make_ins(9), "validation_error")]
    assert refused[0].detail == "email: domain refused"
    assert len(gateway.patients) == 3


async def test_transient_failures_are_retried_and_persistent_ones_reported_failed() -> None:
    gateway = StandInGateway()
    gateway.failures = {
        make_ins(0): [503, 429],
        make_ins(1): [httpx.ConnectError, 504],
        make_ins(2): [503, 503, 503],  # more than the 3 attempts allowed
        make_ins(3): [500],  # a bug, not an outage: no retry
    }
    outcomes = await run_import(gateway, csv_text(5))
    assert outcomes.kinds() == {2: "created", 3: "created", 4: "failed", 5: "failed", 6: "created"}
    failed = {o.line: o.reason for o in outcomes.outcomes if o.kind is OutcomeKind.FAILED}
    assert failed == {4: "unavailable", 5: "unavailable"}
    assert make_ins(2) not in gateway.patients


async def test_refused_token_stops_the_import_at_once() -> None:
    gateway = StandInGateway()
    with pytest.raises(AuthenticationFailed, match="401"):
        await run_import(gateway, csv_text(500), concurrency=4, token="expired")
    assert gateway.puts == 0 and not gateway.patients


# --- the command line -------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MES_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("MES_GATEWAY_URL", raising=False)


def cli(gateway: StandInGateway, *args: str) -> int:
    return main(
        ["--gateway", "http://gw", *args]
        if args[0] == "resolve" and False
        else [args[0], "--gateway", "http://gw", *args[1:]],
        transport=httpx.MockTransport(gateway),
    )


def test_cli_import_with_dev_token_report_and_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway = StandInGateway()
    source = tmp_path / "patients.csv"
    source.write_text(
        csv_text(5) + "27903512151898,created,X,Y,,x@example.fr,\n", encoding="utf-8-sig"
    )
    report = tmp_path / "report.csv"
    code = cli(gateway, "import-patients", str(source), "--report", str(report), "--no-progress")
    err = capsys.readouterr().err
    assert code == 1
    assert "line 7: rejected 27903512151898 wrong_length" in err
    assert "6 lines: 5 created, 0 updated (or unchanged), 1 rejected, 0 failed" in err
    rows = list(csv.DictReader(report.open(encoding="utf-8")))
    assert rows == [
        {
            "line": "7",
            "ins": "27903512151898",
            "outcome": "rejected",
            "reason": "wrong_length",
            "detail": "INS must be 15 characters, got 14",
        }
    ]

    source.write_text(csv_text(5), encoding="utf-8")
    assert cli(gateway, "import-patients", str(source), "--token", "good") == 0
    assert "5 updated" in capsys.readouterr().err


def test_cli_reads_jsonl_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    line = {
        "ins": make_ins(1),
        "state": "activated",
        "birth_name": "B",
        "first_names": "F",
        "email": "f@example.fr",
        "app_installed": True,
    }
    data = (json.dumps(line) + "\n").encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    gateway = StandInGateway()
    assert cli(gateway, "import-patients", "-", "--format", "jsonl") == 0
    assert gateway.patients[make_ins(1)]["state"] == "activated"
    assert "1 created" in capsys.readouterr().err


def test_cli_without_token_on_a_production_gateway_says_a_token_is_needed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "p.csv"
    source.write_text(csv_text(2), encoding="utf-8")
    gateway = StandInGateway(dev_tokens=False)
    assert cli(gateway, "import-patients", str(source)) == 2
    assert "--token" in capsys.readouterr().err and gateway.puts == 0


def test_cli_refused_token_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "p.csv"
    source.write_text(csv_text(20), encoding="utf-8")
    gateway = StandInGateway()
    assert cli(gateway, "import-patients", str(source), "--token", "stale") == 2
    assert "token was refused" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("p.txt", "x", "--format"),
        ("p.csv", "ins,state,nom\n", "unknown CSV column"),
        ("missing.csv", None, "cannot read"),
    ],
)
def test_cli_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str | None, message: str
) -> None:
    source = tmp_path / name
    if content is not None:
        source.write_text(content, encoding="utf-8")
    assert cli(StandInGateway(), "import-patients", str(source)) == 2
    assert message in capsys.readouterr().err


def test_cli_resolve_prints_the_resolution(capsys: pytest.CaptureFixture[str]) -> None:
    gateway = StandInGateway()
    gateway.patients[make_ins(1)] = {"state": "activated"}
    assert cli(gateway, "resolve", f"{make_ins(1)}@patient.mssante.fr") == 0
    assert json.loads(capsys.readouterr().out)["status"] == "deliverable"
    assert cli(gateway, "resolve", f"{make_ins(2)}@patient.mssante.fr") == 1
