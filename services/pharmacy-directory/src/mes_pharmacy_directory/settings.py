from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mes_platform.settings import ServiceSettings

__all__ = ["DirectorySettings"]


class DirectorySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MES_DIRECTORY_", extra="ignore")

    service_name: str = "directory"
    port: int = 8104
    # A word search is one statement whose plan does not depend on its values (the engine
    # picks the driving word while it runs): the sessions that read plan it once each instead
    # of at each run, which costs more than running it. Not the writers': an import's
    # statements would keep plans made while the tables were still empty.
    postgres_read_settings: dict[str, str] = Field(
        default_factory=lambda: {"plan_cache_mode": "force_generic_plan"}
    )
