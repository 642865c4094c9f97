"""Open the four services' stores for reading (audit, replay, export, reports).

Store URLs come from flags or the environment; the default is the ``hotro up`` layout,
``<data_dir>/<service>.sqlite``. Each service is opened through its own composition root
(``build_application``) so the tools decode events exactly as the service does."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from hotro.shared.eventstore.application import ServiceApplication

SERVICES: tuple[str, ...] = ("intake", "routing", "sla", "notify")
#: Any NATS URL: the settings classes require one, opening a store never connects.
_UNUSED_NATS = "nats://127.0.0.1:4222"


class StoreMissing(LookupError):
    pass


def default_store_urls(data_dir: str | Path) -> dict[str, str]:
    base = Path(data_dir).resolve()
    return {svc: f"sqlite:///{base / f'{svc}.sqlite'}" for svc in SERVICES}


def store_urls(overrides: Iterable[str] = (), data_dir: str | Path | None = None,
               environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``service=url`` overrides, then ``HOTRO_<SERVICE>_STORE_URL``, then the default."""
    env = os.environ if environ is None else environ
    urls = default_store_urls(data_dir or env.get("HOTRO_DATA_DIR", "var"))
    for svc in SERVICES:
        from_env = env.get(f"HOTRO_{svc.upper()}_STORE_URL")
        if from_env:
            urls[svc] = from_env
    for item in overrides:
        svc, sep, url = item.partition("=")
        if not sep or svc not in SERVICES:
            raise ValueError(f"--store expects service=url with a service of {SERVICES}: "
                             f"{item!r}")
        urls[svc] = url
    return urls


def _check_exists(url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        if url.startswith("sqlite:////"):  # an absolute path
            path = "/" + path.lstrip("/")
        elif url.startswith("sqlite:///") and not Path(path).is_absolute():
            path = path.lstrip("/")
        if not Path(path).is_file():
            raise StoreMissing(f"no store at {path} (set --store service=url)")


def store_exists(url: str) -> bool:
    """False only for a SQLite file that is not there (a server store is assumed)."""
    try:
        _check_exists(url)
    except StoreMissing:
        return False
    return True


def open_service(service: str, url: str, *, clock: Callable[[], datetime] | None = None,
                 allow_memory: bool = False) -> ServiceApplication:
    _check_exists(url)
    common: dict[str, Any] = {"nats_url": _UNUSED_NATS, "store_url": url,
                              "allow_memory_store": allow_memory}
    if service == "intake":
        from hotro.services.intake.main import build_application as intake
        from hotro.services.intake.settings import IntakeSettings
        return intake(IntakeSettings(**common), clock=clock)
    if service == "routing":
        from hotro.services.routing.main import build_application as routing
        from hotro.services.routing.settings import RoutingSettings
        return routing(RoutingSettings(**common), clock=clock)
    if service == "notify":
        from hotro.services.notify.main import build_application as notify
        from hotro.services.notify.settings import NotifySettings
        return notify(NotifySettings(**common), clock=clock)
    if service == "sla":
        from hotro.services.sla.main import build_application as sla
        from hotro.services.sla.settings import SlaSettings
        return sla(SlaSettings(**common), clock=clock)
    raise ValueError(f"unknown service {service!r}")


@dataclass
class Stores:
    apps: dict[str, ServiceApplication] = field(default_factory=dict)

    def __getitem__(self, service: str) -> Any:
        return self.apps[service]

    def close(self) -> None:
        for app in self.apps.values():
            app.close()

    def __enter__(self) -> Stores:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_stores(urls: Mapping[str, str], *, services: Iterable[str] = SERVICES,
                clock: Callable[[], datetime] | None = None,
                allow_memory: bool = False) -> Stores:
    stores = Stores()
    try:
        for svc in services:
            stores.apps[svc] = open_service(svc, urls[svc], clock=clock,
                                            allow_memory=allow_memory)
    except Exception:
        stores.close()
        raise
    return stores


def from_applications(apps: Mapping[str, ServiceApplication]) -> Stores:
    """Wrap already-open applications (tests, in-process tools). ``close`` is theirs."""
    return _Borrowed(dict(apps))


class _Borrowed(Stores):
    def close(self) -> None:
        return None
