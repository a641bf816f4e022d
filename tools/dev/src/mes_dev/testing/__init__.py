"""Real components for tests: a NATS server per test, fresh SQLite and PostgreSQL databases."""

from .nats_server import NatsServer, find_nats_server, free_port
from .postgres import PostgresDatabase, postgres_admin_url

__all__ = ["NatsServer", "PostgresDatabase", "find_nats_server", "free_port", "postgres_admin_url"]
