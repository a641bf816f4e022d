from alembic import context

from mes_notifier.adapters.tables import metadata
from mes_platform.migrations import run_env

run_env(context, target_metadata=metadata)
