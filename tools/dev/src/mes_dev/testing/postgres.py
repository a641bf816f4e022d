"""A fresh PostgreSQL database per test, on the server named by ``MES_TEST_POSTGRES_URL``."""

from __future__ import annotations

import os
import uuid

import asyncpg

__all__ = ["PostgresDatabase", "postgres_admin_url"]


def postgres_admin_url() -> str:
    return os.environ.get("MES_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


class PostgresDatabase:
    def __init__(self, admin_url: str | None = None) -> None:
        self.admin_url = admin_url or postgres_admin_url()
        self.name = f"mes_test_{uuid.uuid4().hex[:12]}"

    @property
    def url(self) -> str:
        base = self.admin_url.rsplit("/", 1)[0]
        return base.replace("postgresql://", "postgresql+asyncpg://", 1) + "/" + self.name

    async def create(self) -> None:
        conn = await asyncpg.connect(self.admin_url, timeout=5)
        try:
            await conn.execute(f'CREATE DATABASE "{self.name}"')
        finally:
            await conn.close()

    async def drop(self) -> None:
        conn = await asyncpg.connect(self.admin_url, timeout=5)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        finally:
            await conn.close()
