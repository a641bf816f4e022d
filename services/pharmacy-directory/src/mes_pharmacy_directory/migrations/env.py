from alembic import context
from mes_platform.migrations import run_env

from mes_pharmacy_directory.adapters.tables import metadata

run_env(context, target_metadata=metadata)
