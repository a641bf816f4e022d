"""``python -m mes_gateway``: serve the gateway with uvicorn, as ``mes_platform.serve`` does
for the services (the gateway's settings are not ``ServiceSettings``: it has no storage)."""

from __future__ import annotations

import uvicorn

from .main import create_app
from .settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=10,
        server_header=False,
    )


if __name__ == "__main__":
    main()
