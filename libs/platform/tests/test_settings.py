"""What production refuses to start with: every service reads these settings."""

from __future__ import annotations

import pytest

from mes_platform.settings import DEV_INTERNAL_TOKEN, ServiceSettings

_URL = "postgresql+asyncpg://mes:pw@postgres:5432/mes"


@pytest.mark.parametrize(
    "token", ["", DEV_INTERNAL_TOKEN, "short", "0123456789abcdef0123456789abcde"]
)
def test_production_refuses_an_internal_token_that_is_not_a_secret(token: str) -> None:
    with pytest.raises(ValueError, match="internal_token"):
        ServiceSettings(environment="production", internal_token=token, database_url=_URL)


def test_production_accepts_an_internal_token_of_32_characters() -> None:
    settings = ServiceSettings(
        environment="production",
        internal_token="0123456789abcdef0123456789abcdef",
        database_url=_URL,
    )
    assert settings.environment == "production"


def test_development_keeps_its_default_token() -> None:
    assert ServiceSettings().internal_token.get_secret_value() == DEV_INTERNAL_TOKEN
