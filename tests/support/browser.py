"""Browser tests of the console: the four services and the console served over HTTP on
free ports (uvicorn, in a thread of their own with its own event loop) against a real
nats-server, and headless Chromium (Debian's ``/usr/bin/chromium``) driven by Playwright.

Also: axe-core checks of a page (``tests/support/axe.min.js``, npm package ``axe-core``,
MPL-2.0: ``axe.LICENSE.txt``), the browser's console errors, and screenshots saved under
``var/artifacts/screenshots/`` (CI keeps the folder as an artifact)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from hotro.natsbin import free_port
from hotro.services.console.main import create_app
from hotro.services.console.settings import ConsoleSettings
from hotro.shared.messaging.credentials import connect
from hotro.shared.staff.sessions import provision_sessions_bucket
from tests.support.console import (
    service_settings_extra,
    write_assertion_keys,
    write_capability_keys,
    write_console_users,
)
from tests.support.system import running_system

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
ROOT = Path(__file__).parents[2]
SCREENSHOTS = ROOT / "var" / "artifacts" / "screenshots"
AXE = Path(__file__).with_name("axe.min.js")
SERIOUS = ("serious", "critical")


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # the test process keeps its signals
        yield


@dataclass
class LiveSystem:
    """Everything on one event loop in a background thread; ``url`` is the console's."""

    nats_url: str
    tmp: Path
    partitions: int = 4
    lease_ttl_s: float = 2.0
    url: str = ""
    service_urls: dict[str, str] = field(default_factory=dict)
    users: Path = field(init=False)
    keys: Path = field(init=False)
    capability_keys: Path = field(init=False)
    _thread: threading.Thread | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _error: BaseException | None = None

    def start(self) -> LiveSystem:
        self.users = write_console_users(self.tmp / "console-users.toml")
        self.keys = write_assertion_keys(self.tmp / "assertion-keys.toml")
        self.capability_keys = write_capability_keys(self.tmp / "capability-keys.toml")
        self._thread = threading.Thread(target=self._run, name="live-system", daemon=True)
        self._thread.start()
        if not self._ready.wait(120) or self._error is not None:
            raise AssertionError(f"the live system did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(60)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to the test thread
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        nc = await connect([self.nats_url])
        await provision_sessions_bucket(nc.jetstream())
        await nc.close()
        console_port = free_port()
        self.url = f"http://127.0.0.1:{console_port}"
        extra = service_settings_extra(self.users, self.keys, self.capability_keys)
        for svc in extra:
            extra[svc]["public_base_url"] = self.url
        async with running_system(
                self.nats_url, lambda s: f"sqlite:///{self.tmp / s}.sqlite", self.tmp,
                partitions=self.partitions, lease_ttl_s=self.lease_ttl_s,
                settings_extra=extra) as system:
            servers: list[_Server] = []
            for name, app in system.apps.items():
                port = free_port()
                self.service_urls[name] = f"http://127.0.0.1:{port}"
                servers.append(_Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                                      lifespan="off", log_level="warning",
                                                      access_log=False)))
            settings = ConsoleSettings(
                users_file=str(self.users), auth_keys_file=str(self.keys),
                nats_url=self.nats_url, intake_url=self.service_urls["intake"],
                routing_url=self.service_urls["routing"], sla_url=self.service_urls["sla"],
                notify_url=self.service_urls["notify"], live_poll_s=0.5,
                public_base_url=self.url)
            console = create_app(settings)  # each call: a fresh staff assertion
            servers.append(_Server(uvicorn.Config(console, host="127.0.0.1",
                                                  port=console_port, log_level="warning",
                                                  access_log=False,
                                                  timeout_graceful_shutdown=3)))
            tasks = [asyncio.create_task(s.serve()) for s in servers]
            async with httpx.AsyncClient() as client:
                for _ in range(200):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{self.url}/healthz")).status_code == 200:
                            break
                    await asyncio.sleep(0.05)
            self._ready.set()
            await self._stop.wait()
            for server in servers:
                server.should_exit = True
            await asyncio.gather(*tasks, return_exceptions=True)


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the page's CSP (script-src 'self')
        # stays in force for the page's own scripts and is checked by the tests.
        page.evaluate(AXE.read_text(encoding="utf-8"))
    results = page.evaluate("""async () => {
        const r = await window.axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
    }""")
    return [v for v in results if v.get("impact") in SERIOUS]


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
