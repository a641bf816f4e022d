from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from mes_platform.settings import ServiceSettings

__all__ = ["IdentitySettings"]


class IdentitySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MES_IDENTITY_", extra="ignore")

    service_name: str = "identity"
    port: int = 8101
    resolution_cache_seconds: float = 5.0
