"""docker-compose.yml read against the code (no Docker engine runs here): every variable it sets
is one a settings class reads, the production validators accept what it sets, and every
deployable is built from docker/Dockerfile."""

from __future__ import annotations

import importlib
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from mes_dev.devstack_services import SERVICES, ServiceSpec

ROOT = Path(__file__).resolve().parents[3]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DEPLOYABLES = [s for s in SERVICES if not s.replica]
# What a deployer puts in .env (docker/env.example names them all).
DEPLOYER_ENV = {
    "POSTGRES_PASSWORD": "pw",
    "MES_INTERNAL_TOKEN": "a-real-secret-of-enough-length-32",
    "MES_GATEWAY_JWKS_URL": "https://idp.example.org/jwks.json",
    "MES_GATEWAY_JWT_ISSUER": "https://idp.example.org",
    "MES_GATEWAY_JWT_AUDIENCE": "mes-messagerie",
    "MES_NOTIFIER_SMTP_HOST": "smtp.example.org",
    "MES_NOTIFIER_FCM_PROJECT_ID": "mes-app-project",
    "MES_NOTIFIER_FCM_CREDENTIALS_FILE": "./secrets/fcm-service-account.json",
}
_VAR = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def _interpolate(value: str) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}, from DEPLOYER_ENV."""

    def one(m: re.Match[str]) -> str:
        name, kind, arg = m.group(1), m.group(2), m.group(3)
        if name in DEPLOYER_ENV:
            return DEPLOYER_ENV[name]
        if kind == "-":
            return arg
        raise AssertionError(f"${{{name}}} is neither in docker/env.example nor defaulted")

    return _VAR.sub(one, value)


def _settings_class(spec: ServiceSpec) -> type[BaseSettings]:
    module = importlib.import_module(f"{spec.module}.settings")
    (cls,) = [
        c
        for c in vars(module).values()
        if isinstance(c, type) and issubclass(c, BaseSettings) and c.__module__ == module.__name__
    ]
    return cls


def _port(spec: ServiceSpec) -> int:
    return int(_settings_class(spec).model_fields["port"].default)


@pytest.mark.parametrize("spec", DEPLOYABLES, ids=lambda s: s.name)
def test_compose_sets_only_what_the_service_reads_and_production_accepts_it(
    spec: ServiceSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = COMPOSE["services"][spec.name]
    env = {k: _interpolate(str(v)) for k, v in service["environment"].items()}
    cls = _settings_class(spec)
    unknown = [
        k
        for k in env
        if not k.startswith(spec.prefix) or k[len(spec.prefix) :].lower() not in cls.model_fields
    ]
    assert unknown == [], f"{spec.name} reads no such variable"

    for name in [n for n in os.environ if n.startswith(spec.prefix)]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = cls()  # the production validators run here
    values = settings.model_dump()
    assert values["environment"] == "production"
    assert (values["host"], values["port"]) == ("0.0.0.0", _port(spec))
    assert values["log_json"] is True
    assert settings.internal_token.get_secret_value() == DEPLOYER_ENV["MES_INTERNAL_TOKEN"]  # type: ignore[attr-defined]
    if "database_url" in values:
        assert values["database_url"].startswith("postgresql+asyncpg://mes:pw@postgres:5432/")
    if "nats_url" in values:
        assert values["nats_url"].startswith("nats://nats-")
    # Every URL of another service points at that service's compose name and port.
    for other in SERVICES:
        if other.url_key is None:
            continue
        field = f"{other.url_key.lower()}_url"
        if field in values:
            assert values[field] == f"http://{other.name}:{_port(other)}", field

    build = service["build"]
    assert (build["dockerfile"], build["args"]["SERVICE"]) == ("docker/Dockerfile", spec.deployable)
    assert f"127.0.0.1:{_port(spec)}/readyz" in " ".join(service["healthcheck"]["test"])
    assert all(d["condition"] == "service_healthy" for d in service["depends_on"].values())


def test_each_service_has_its_own_database() -> None:
    created = set(
        re.findall(r"CREATE DATABASE (\w+);", (ROOT / "docker/postgres/init.sql").read_text())
    )
    # Processes of one service (the mailbox's API and its delivery) share its database.
    used = {
        spec.deployable: _interpolate(str(env[k])).rsplit("/", 1)[1]
        for spec in DEPLOYABLES
        for env in [COMPOSE["services"][spec.name].get("environment", {})]
        for k in env
        if k.endswith("_DATABASE_URL")
    }
    assert len(used) == len(set(used.values())) == 5
    assert set(used.values()) <= created
    mailbox, delivery = (
        COMPOSE["services"][n]["environment"] for n in ("mailbox", "mailbox-delivery")
    )
    assert mailbox["MES_MAILBOX_DATABASE_URL"] == delivery["MES_MAILBOX_DATABASE_URL"]
    assert (mailbox["MES_MAILBOX_DELIVERY"], delivery["MES_MAILBOX_DELIVERY"]) == ("false", "true")


def test_every_deployable_is_a_workspace_package_the_dockerfile_can_build() -> None:
    dockerfile = (ROOT / "docker/Dockerfile").read_text()
    assert '--package "mes-${SERVICE}"' in dockerfile
    root = (ROOT / "pyproject.toml").read_text()
    for spec in DEPLOYABLES:
        assert f'"mes-{spec.deployable}"' in root, spec.name
        assert spec.name in COMPOSE["services"]
    assert COMPOSE["services"]["gateway"]["ports"] == ["${MES_GATEWAY_PUBLISHED_PORT:-8000}:8000"]
    assert COMPOSE["services"]["gateway-patients"]["ports"] == [
        "${MES_GATEWAY_PATIENTS_PUBLISHED_PORT:-8001}:8000"
    ]


def test_env_example_names_every_variable_compose_requires() -> None:
    example = (ROOT / "docker/env.example").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))
    assert required <= set(re.findall(r"^(\w+)=", example, re.M))
    assert required <= set(DEPLOYER_ENV)


def test_the_gateways_metrics_are_scraped_on_their_own_port_never_the_published_one() -> None:
    scrape = yaml.safe_load((ROOT / "docker/prometheus/prometheus.yml").read_text())
    targets = {
        target
        for job in scrape["scrape_configs"]
        for config in job["static_configs"]
        for target in config["targets"]
    }
    for name in ("gateway", "gateway-patients"):
        service = COMPOSE["services"][name]
        port = str(service["environment"]["MES_GATEWAY_METRICS_PORT"])
        assert port in service["expose"]
        assert all(not str(p).endswith(f":{port}") for p in service["ports"])  # not published
        assert f"{name}:{port}" in targets


@pytest.mark.parametrize("spec", [s for s in SERVICES if s.replica], ids=lambda s: s.name)
def test_a_replica_of_the_dev_stack_is_a_replica_in_production(spec: ServiceSpec) -> None:
    service = COMPOSE["services"][spec.deployable]
    replicas = 1 + sum(1 for s in SERVICES if s.replica and s.deployable == spec.deployable)
    assert service["deploy"]["replicas"] >= replicas
    assert "ports" not in service  # replicas cannot share a published port
