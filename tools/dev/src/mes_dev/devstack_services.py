"""What the development stack runs: the processes and the environment each one reads.

The environment names here are the ones the services' settings classes read (prefix + field),
the same ones ``docker-compose.yml`` sets for production.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = [
    "SERVICES",
    "ServiceSpec",
    "StackAddresses",
    "database_urls",
    "describe_database",
    "service_env",
]


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # what the stack calls it: log file var/log/<name>.log
    module: str  # run as ``python -m <module>``
    prefix: str  # environment prefix of its settings
    url_key: (
        str | None
    )  # how the others name its base URL (<PREFIX><url_key>_URL); None: no one calls it
    health_path: str = "/readyz"
    instance_of: str | None = None  # another process of that service: same code and database
    settings: tuple[tuple[str, str], ...] = ()  # (field, value) of its own, e.g. a role
    # A replica of ``instance_of``, with nothing of its own: production runs it as one more
    # replica of that service (docker-compose.yml's deploy.replicas), not as a service apart.
    replica: bool = False

    @property
    def deployable(self) -> str:
        """The service whose package and image this process runs."""
        return self.instance_of or self.name

    def is_written(self) -> bool:
        """True once ``python -m <module>`` can run: its ``__main__`` and ``main`` exist."""
        try:
            return all(
                importlib.util.find_spec(f"{self.module}.{part}") is not None
                for part in ("__main__", "main")
            )
        except ImportError:
            return False


# Started in this order; the gateway last, since its /health asks all the others.
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("identity", "mes_identity", "MES_IDENTITY_", "IDENTITY"),
    # The mailbox's API and its delivery of the conversation events, in two processes on one
    # database: a patient's read never waits behind a delivery transaction on the same event
    # loop (under the bench's load, about 5 ms at the median and 20 ms at the 99th percentile).
    ServiceSpec(
        "mailbox", "mes_mailbox", "MES_MAILBOX_", "MAILBOX", settings=(("DELIVERY", "false"),)
    ),
    ServiceSpec(
        "mailbox-delivery",
        "mes_mailbox",
        "MES_MAILBOX_",
        "MAILBOX_DELIVERY",  # for the gateway's /health only: no one calls it
        instance_of="mailbox",
    ),
    ServiceSpec("conversation", "mes_conversation", "MES_CONVERSATION_", "CONVERSATION"),
    # The conversations' reads (a patient's list and contacts, a mailbox's conversations), in
    # a process of the conversation service of its own, on its database: they never wait
    # behind the admission of professionals' bulk sends (under the bench's load, a patient's
    # list of conversations took 117 ms at the median and 470 ms at the 99th percentile).
    ServiceSpec(
        "conversation-reads",
        "mes_conversation",
        "MES_CONVERSATION_",
        "CONVERSATION_READS",
        instance_of="conversation",
        settings=(("BACKGROUND_WORK", "false"),),
    ),
    ServiceSpec("pharmacy-directory", "mes_pharmacy_directory", "MES_DIRECTORY_", "DIRECTORY"),
    ServiceSpec("notifier", "mes_notifier", "MES_NOTIFIER_", "NOTIFIER"),
    # A second replica of the notifier on its database: the consumers' queue group shares the
    # events between the two, and each sends what it claimed. At the senders' full rate one
    # process gets a single share of the cores, less than the e-mails need.
    ServiceSpec(
        "notifier-2", "mes_notifier", "MES_NOTIFIER_", None, instance_of="notifier", replica=True
    ),
    ServiceSpec("gateway", "mes_gateway", "MES_GATEWAY_", "GATEWAY", health_path="/health"),
    # The same public API, served apart for the patients' apps (a bulkhead): professionals'
    # software sending in bulk saturates the gateway it calls, and a patient's read waited
    # behind those sends (under the bench's load, a patient saw a new message about three times
    # later at the median).
    ServiceSpec(
        "gateway-patients",
        "mes_gateway",
        "MES_GATEWAY_",
        None,
        health_path="/health",
        instance_of="gateway",
    ),
)


@dataclass(frozen=True)
class StackAddresses:
    """Where everything listens, decided before any process starts."""

    ports: dict[str, int]  # service name -> port
    nats_url: str
    smtp_host: str
    smtp_port: int
    host: str = "127.0.0.1"
    # The gateways' /metrics, each on a port of its own (the scraper's, not the public one).
    metrics_ports: dict[str, int] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return f"http://{self.host}:{self.ports[service]}"


def database_urls(environ: Mapping[str, str]) -> dict[str, str]:
    """The database URL each process of the stack is given: ``<PREFIX>DATABASE_URL`` when the
    shell sets it (PostgreSQL, say), else empty, which is SQLite ``<data_dir>/<service>.db``.
    The processes of one service share its prefix, and so its database."""
    return {
        spec.name: environ.get(f"{spec.prefix}DATABASE_URL", "").strip()
        for spec in SERVICES
        if spec.deployable != "gateway"
    }


def describe_database(url: str, data_dir: Path, spec: ServiceSpec) -> str:
    """Which engine a process runs on, for the banner: never the password."""
    if not url:
        return f"SQLite {data_dir / (spec.deployable.removeprefix('pharmacy-') + '.db')}"
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "an unreadable database URL"
    engine = parsed.get_backend_name()
    name = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}.get(engine, engine)
    where = f"{parsed.host or ''}{':' + str(parsed.port) if parsed.port else ''}"
    return f"{name} {where}/{parsed.database or ''}".replace(" /", " ")


def service_env(
    spec: ServiceSpec,
    stack: StackAddresses,
    *,
    data_dir: Path,
    internal_token: str,
    database_url: str = "",
) -> dict[str, str]:
    """The variables one service is started with (added to the inherited environment).

    Every service is told every other service's URL (``<PREFIX>IDENTITY_URL`` ...): settings
    ignore what they do not read, and a service that starts calling another needs no change here.
    ``database_url`` empty is SQLite ``<data_dir>/<service>.db``.
    """
    p = spec.prefix
    env = {
        f"{p}HOST": stack.host,
        f"{p}PORT": str(stack.ports[spec.name]),
        f"{p}DATA_DIR": str(data_dir),
        f"{p}DATABASE_URL": database_url,
        f"{p}NATS_URL": stack.nats_url,
        f"{p}INTERNAL_TOKEN": internal_token,
        f"{p}ENVIRONMENT": "development",
        f"{p}LOG_JSON": "true",
        f"{p}SMTP_HOST": stack.smtp_host,
        f"{p}SMTP_PORT": str(stack.smtp_port),
    }
    for other in SERVICES:
        if other.name != spec.name and other.url_key is not None:
            env[f"{p}{other.url_key}_URL"] = stack.url(other.name)
    if spec.name in stack.metrics_ports:
        env[f"{p}METRICS_PORT"] = str(stack.metrics_ports[spec.name])
    env.update({f"{p}{name}": value for name, value in spec.settings})
    return env
