from alembic import context

from mes_platform.migrations import run_env

run_env(context)
