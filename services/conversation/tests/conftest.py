"""Fixtures: the conversation app with fake identity and directory, on SQLite or both engines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from mes_conversation.testing import Harness, running, settings_for


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running(settings_for(tmp_path)) as h:
        yield h


@pytest.fixture
async def any_db_harness(tmp_path: Path, database_url: str) -> AsyncIterator[Harness]:
    """The same app on SQLite and on PostgreSQL."""
    async with running(settings_for(tmp_path, database_url)) as h:
        yield h


@pytest.fixture
def harness_factory(tmp_path: Path) -> Callable[..., Any]:
    def factory(**overrides: Any) -> Any:
        return running(settings_for(tmp_path, **overrides))

    return factory
