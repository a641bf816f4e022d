from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from mes_platform.settings import ServiceSettings

__all__ = ["DirectorySettings"]


class DirectorySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MES_DIRECTORY_", extra="ignore")

    service_name: str = "directory"
    port: int = 8104
