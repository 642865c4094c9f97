from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotro.natsbin import NatsServerProcess
from hotro.provisioning import provision_all
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, LiveSystem

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveSystem]:
    tmp = tmp_path_factory.mktemp("live")
    nats = NatsServerProcess(store_dir=tmp / "nats", log_file=tmp / "nats.log")
    nats.start()
    try:
        asyncio.run(provision_all(nats.url, partitions=4, lease_ttl_s=2.0, max_deliver=5,
                                  ack_wait_s=3.0))
        system = LiveSystem(nats.url, tmp).start()
        try:
            yield system
        finally:
            system.stop()
    finally:
        nats.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # the dev extra: pip install -e '.[dev]'
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("playwright is not installed")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
