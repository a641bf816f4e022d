"""``make run`` with a database URL in the shell: the service runs on it, and the banner says
which engine each process runs on (and where the gateways' metrics are scraped)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mes_conversation.settings import ConversationSettings
from mes_dev.devstack_banner import banner
from mes_dev.devstack_services import SERVICES, StackAddresses, database_urls, service_env
from mes_gateway.settings import GatewaySettings

PG = "postgresql+asyncpg://postgres:s3cret@127.0.0.1:5432/mes_conversation"
STACK = StackAddresses(
    ports={s.name: 21001 + i for i, s in enumerate(SERVICES)},
    nats_url="nats://127.0.0.1:21100",
    smtp_host="127.0.0.1",
    smtp_port=21101,
    metrics_ports={"gateway": 21102, "gateway-patients": 21103},
)


def _spec(name: str):  # type: ignore[no-untyped-def]
    return next(s for s in SERVICES if s.name == name)


def test_a_database_url_in_the_shell_is_the_one_the_service_runs_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = database_urls({"MES_CONVERSATION_DATABASE_URL": PG, "OTHER": "x"})
    # Both processes of the conversation service, on its database; the others on SQLite.
    assert urls["conversation"] == urls["conversation-reads"] == PG
    assert urls["identity"] == urls["mailbox"] == ""
    assert "gateway" not in urls
    for name, value in service_env(
        _spec("conversation"), STACK, data_dir=tmp_path, internal_token="t", database_url=PG
    ).items():
        monkeypatch.setenv(name, value)
    settings = ConversationSettings()
    assert settings.resolved_database_url == PG


def test_without_a_url_each_service_runs_on_its_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in service_env(
        _spec("conversation"), STACK, data_dir=tmp_path, internal_token="t"
    ).items():
        monkeypatch.setenv(name, value)
    url = ConversationSettings().resolved_database_url
    assert url == f"sqlite+aiosqlite:///{tmp_path / 'conversation.db'}"


def test_the_gateways_read_their_metrics_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("gateway", "gateway-patients"):
        for key, value in service_env(
            _spec(name), STACK, data_dir=tmp_path, internal_token="t"
        ).items():
            monkeypatch.setenv(key, value)
        assert GatewaySettings().metrics_port == STACK.metrics_ports[name]


def test_the_banner_says_each_engine_and_never_a_password(tmp_path: Path) -> None:
    text = banner(
        stack=STACK,
        data_dir=tmp_path,
        running=[s.name for s in SERVICES],
        ready_in=1.0,
        demo_lines=[],
        databases=database_urls({"MES_CONVERSATION_DATABASE_URL": PG}),
    )
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("    ")}
    assert "PostgreSQL 127.0.0.1:5432/mes_conversation" in lines["conversation"]
    assert "PostgreSQL 127.0.0.1:5432/mes_conversation" in lines["conversation-reads"]
    assert f"SQLite {tmp_path / 'identity.db'}" in lines["identity"]
    assert f"SQLite {tmp_path / 'directory.db'}" in lines["pharmacy-directory"]
    assert "s3cret" not in text
    assert "http://127.0.0.1:21102/metrics (gateway, for the scraper)" in text
    assert "http://127.0.0.1:21103/metrics (gateway-patients, for the scraper)" in text
