"""What ``mes-dev`` prints once the stack is up: where to go and how to get in."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from .devstack_services import SERVICES, StackAddresses, describe_database

__all__ = ["banner"]

# A patient of the demo data (activated, with the app): the token example uses it.
_DEMO_PATIENT_INS = "279035121518989"


def _show(path: Path) -> str:
    """A path as the developer would type it: relative to where they are, when it is below."""
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)


def _rel(path: Path) -> Path:
    return Path(_show(path))


def banner(
    *,
    stack: StackAddresses,
    data_dir: Path,
    running: Sequence[str],
    ready_in: float,
    demo_lines: Sequence[str],
    databases: Mapping[str, str] | None = None,
) -> str:
    """``databases``: each process's database URL (empty: SQLite under ``data_dir``)."""
    databases = databases or {}
    gateway = stack.url("gateway")
    log_dir, mail_dir = data_dir / "log", data_dir / "mail"
    token_call = (
        f"curl -s -X POST {gateway}/v1/dev/tokens "
        "-H 'Content-Type: application/json' -d '{{\"role\":\"{role}\"{extra}}}'"
    )
    lines = [
        "",
        f"MES Messagerie is up (ready {ready_in:.1f} s after start), data in {_show(data_dir)}/",
        "",
        f"  Gateway      {gateway}",
        f"  Swagger UI   {gateway}/docs",
        f"  Health       {gateway}/health",
        *(
            f"  Metrics      http://{stack.host}:{port}/metrics ({name}, for the scraper)"
            for name, port in stack.metrics_ports.items()
        ),
        f"  Patients' gateway {stack.url('gateway-patients')}: the same API, served apart for "
        "the patients' apps",
        "",
        "  A dev token (development mode only), then: curl -H 'Authorization: Bearer <token>' ...",
        "    " + token_call.format(role="ops", extra=""),
        "    " + token_call.format(role="patient", extra=f',"ins":"{_DEMO_PATIENT_INS}"'),
        "",
    ]
    if demo_lines:
        lines += [f"  {line}" for line in demo_lines] + [""]
    lines.append("  Processes (logs in " + _show(log_dir) + "/<name>.log):")
    for spec in SERVICES:
        where = stack.url(spec.name) if spec.name in running else "not written yet: not started"
        if spec.deployable != "gateway":
            where += ", " + describe_database(databases.get(spec.name, ""), _rel(data_dir), spec)
        lines.append(f"    {spec.name:<20} {where}")
    lines += [
        f"    {'nats':<20} {stack.nats_url} (JetStream store {_show(data_dir / 'nats')}/)",
        f"    {'smtp sink':<20} {stack.smtp_host}:{stack.smtp_port} "
        f"(mails kept as .eml in {_show(mail_dir)}/)",
        f"    {'pushes':<20} recorded in {_show(data_dir / 'push' / 'pushes.jsonl')} "
        "(the notifier's development push provider)",
        "",
        f"  Internal token (header X-Internal-Token): {_show(data_dir / '.internal-token')}",
        "  Ctrl-C stops everything; the next run reuses the data.",
        "",
    ]
    return "\n".join(lines)
