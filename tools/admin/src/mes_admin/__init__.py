"""mes-admin: operator command-line tool (bulk patient import, address resolution)."""
