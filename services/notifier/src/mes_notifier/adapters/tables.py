"""The notifier's own tables; none yet beside the platform tables of the first migration."""

from __future__ import annotations

from sqlalchemy import MetaData

__all__ = ["metadata"]

metadata = MetaData()
