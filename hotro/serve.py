"""`hotro serve SERVICE`: run one service process (what compose and `hotro up` start)."""

from __future__ import annotations

import importlib
from typing import Any

SERVICES = ("intake", "routing", "sla", "notify")


def factory(service: str) -> Any:
    if service not in SERVICES:
        raise SystemExit(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    module = importlib.import_module(f"hotro.services.{service}.main")
    return module.create_app


def serve(service: str, host: str, port: int, log_level: str = "warning") -> None:
    import os

    import uvicorn

    from hotro.shared.observability.logs import configure_logging

    configure_logging(service, os.environ.get("HOTRO_REPLICA_ID", str(os.getpid())),
                      os.environ.get("HOTRO_LOG_LEVEL", "INFO"),
                      os.environ.get("HOTRO_LOG_JSON", "true").lower() != "false")

    uvicorn.run(f"hotro.services.{service}.main:create_app", factory=True, host=host, port=port,
                log_level=log_level, access_log=False, lifespan="on", log_config=None)
