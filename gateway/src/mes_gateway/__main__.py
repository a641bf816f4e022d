"""``python -m mes_gateway``: serve the gateway as the services are served (the gateway's
settings are not ``ServiceSettings``: it has no storage)."""

from __future__ import annotations

from mes_platform.serve import run_app

from .main import create_app
from .settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    run_app(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
