"""The console's queue page and case page with 100k cases in the stores: server time
p50/p95 (the goal: under 200 ms p95 for both).

    .venv/bin/python bench/console_bench.py [--cases 100000] [--requests 200] [--dir DIR]

Fast fill, through the applications directly (no HTTP, no NATS): intake receives every
request (reference, sealed contact, phone index), and intake's ``ComplaintReceived``
envelopes are handed to routing (opens and triages the case) and sla (starts the clocks)
as their partition consumers would (``hotro.audit.simulate.Pump``); notify is left out.
SQLite files, one per service, kept in ``--dir`` (a second run with the same ``--dir``
skips the fill).

Measured: the console app answering a signed-in support member, its calls to the services
going in-process (ASGI, no network hop): the queue page (random filters and pages: each
is routing's paged queue + sla's batch of reply clocks + intake's batch of names) and the
case page (routing's case, intake's request and contact, sla's clocks, notify's
deliveries). The services' read models are warmed first (routing follows 100k cases'
events once at start, as it does when a replica starts).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from hotro.audit.simulate import Pump
from hotro.services.console.main import create_app as console_app
from hotro.services.console.settings import ConsoleSettings
from hotro.services.intake.application import NewRequest
from hotro.services.intake.main import build_application as intake_application
from hotro.services.intake.main import create_app as intake_app
from hotro.services.intake.settings import IntakeSettings
from hotro.services.notify.main import create_app as notify_app
from hotro.services.notify.settings import NotifySettings
from hotro.services.routing.main import build_application as routing_application
from hotro.services.routing.main import create_app as routing_app
from hotro.services.routing.settings import RoutingSettings
from hotro.services.sla.main import build_application as sla_application
from hotro.services.sla.main import create_app as sla_app
from hotro.services.sla.settings import SlaSettings
from hotro.shared.eventstore.trace import Trace
from hotro.shared.staff import assertions
from hotro.shared.staff.passwords import default_passwords
from hotro.shared.staff.roles import Role
from hotro.shared.staff.signing import ensure_keys
from hotro.shared.staff.users import StaffUser, write_users

PASSWORD = "bench-password-1"
TOKEN = "bench-token-support-0123456789"
PRODUCTS = ("dien-lanh", "gia-dung", "dien-thoai-may-tinh-bang", "may-tinh-laptop")
CHANNELS = ("counter", "hotline", "web", "email")
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
          "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý")
MIDDLE = ("Văn", "Thị", "Hữu", "Ngọc", "Minh", "Thanh", "Đức", "Quang")
GIVEN = ("An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Hùng",
         "Khánh", "Lan", "Linh", "Long", "Mai", "Nam", "Nga", "Phúc", "Phương", "Quân",
         "Sơn", "Tâm", "Thảo", "Thủy", "Trang", "Trung", "Tuấn", "Vân", "Yến")


def customer(n: int) -> dict[str, str]:
    """The n-th bench customer: a Vietnamese name (16 × 8 × 30 = 3840 distinct names), a
    phone and, every other case, an email."""
    name = (f"{FAMILY[n % len(FAMILY)]} {MIDDLE[n // len(FAMILY) % len(MIDDLE)]} "
            f"{GIVEN[n // (len(FAMILY) * len(MIDDLE)) % len(GIVEN)]}")
    found = {"name": name, "phone": f"+849{n % 100_000_000:08d}"}
    if n % 2 == 0:
        found["email"] = f"khach{n}@example.vn"
    return found


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def settings(service: str, folder: Path) -> Any:
    common: dict[str, Any] = dict(
        nats_url="nats://127.0.0.1:1", store_url=f"sqlite:///{folder / service}.sqlite",
        allow_memory_store=True,  # the process's own data-key ring: no NATS in this run
        data_dir=str(folder), users_file=str(folder / "users.toml"),
        auth_keys_file=str(folder / "assertion-keys.toml"))
    if service == "intake":
        return IntakeSettings(pii_hash_secret="bench-pii-hash-secret", **common)
    classes = {"routing": RoutingSettings, "sla": SlaSettings, "notify": NotifySettings}
    return classes[service](**common)


def fill(folder: Path, cases: int, batch: int = 500) -> float:
    started = time.perf_counter()
    intake = intake_application(settings("intake", folder))
    apps = {"intake": intake, "routing": routing_application(settings("routing", folder)),
            "sla": sla_application(settings("sla", folder))}
    pump = Pump(apps, page=batch)
    trace = Trace(actor_kind="staff", actor_id="bench", actor_role="agent",
                  correlation_id=str(uuid.uuid4())).as_dict()
    for n in range(cases):
        intake.receive(NewRequest(
            kind="complaint", channel=CHANNELS[n % 4],
            customer=customer(n),
            description=f"Yêu cầu số {n}", product=PRODUCTS[n % 4]), trace)
        if n % batch == batch - 1:
            pump.step()
            pump.stream.clear()  # consumed by every consumer: keep memory flat
            pump.read = {k: 0 for k in pump.read}
            if n % 10_000 == 9_999:
                print(f"  {n + 1} cases ({time.perf_counter() - started:.0f} s)", flush=True)
    pump.step()
    return time.perf_counter() - started


def write_users_and_keys(folder: Path) -> None:
    digest = default_passwords().hash(PASSWORD)
    write_users(folder / "users.toml", [StaffUser(
        id="bench.support", name="Bench Support", role=Role.SUPPORT, token=TOKEN,
        password_hash=digest)])
    ensure_keys(folder / "assertion-keys.toml", assertions.PURPOSE, datetime.now(UTC))


async def measure(folder: Path, requests: int) -> dict[str, list[float]]:
    services = {"intake": intake_app(settings("intake", folder)),
                "routing": routing_app(settings("routing", folder)),
                "sla": sla_app(settings("sla", folder)),
                "notify": notify_app(settings("notify", folder))}
    transports = {n: httpx.ASGITransport(app=a) for n, a in services.items()}
    # every call carries a fresh staff assertion, verified by the service (as in production)
    console = console_app(ConsoleSettings(
        allow_memory_sessions=True, users_file=str(folder / "users.toml"),
        auth_keys_file=str(folder / "assertion-keys.toml"), intake_url="http://intake",
        routing_url="http://routing", sla_url="http://sla", notify_url="http://notify"),
        transports=transports)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=console),
                               base_url="http://console", timeout=120)
    page = await client.get("/sign-in")
    token = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert token
    signed = await client.post("/sign-in", data={"user_id": "bench.support",
                                                 "password": PASSWORD,
                                                 "form_token": token.group(1)})
    assert signed.status_code == 303, signed.text[:500]

    warm = time.perf_counter()
    first = await client.get("/queue")
    assert first.status_code == 200, first.text[:2000]
    total = re.search(r"— (\d+) hồ sơ", first.text)
    print(f"warm-up (routing follows its log once): {time.perf_counter() - warm:.1f} s; "
          f"queue total {total.group(1) if total else '?'}", flush=True)
    ids = re.findall(r'href="/cases/([0-9a-f-]{36})"', first.text)
    warm = time.perf_counter()
    assert (await client.get(f"/cases/{ids[0]}")).status_code == 200
    print(f"warm-up of the case page (intake and sla follow their logs once): "
          f"{time.perf_counter() - warm:.1f} s", flush=True)
    pages = int(total.group(1)) // 25 if total else 1
    rng = random.Random(7)
    found: dict[str, list[float]] = {"queue": [], "case": []}
    for i in range(requests):
        params: dict[str, Any] = {"page": rng.randint(1, max(1, pages))}
        if i % 3 == 1:
            params["channel"] = rng.choice(CHANNELS)
        if i % 3 == 2:
            params = {"product": rng.choice(PRODUCTS), "state": "analysing",
                      "page": rng.randint(1, max(1, pages // 8))}
        started = time.perf_counter()
        r = await client.get("/queue", params=params)
        found["queue"].append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200, r.text[:500]
        ids += re.findall(r'href="/cases/([0-9a-f-]{36})"', r.text)[:2]
    for i in range(requests):
        complaint_id = ids[i % len(ids)]
        started = time.perf_counter()
        r = await client.get(f"/cases/{complaint_id}")
        found["case"].append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200, r.text[:500]
    cases = int(total.group(1)) if total else 1
    warm = time.perf_counter()
    assert (await client.get("/queue", params={"q": "nguyen"})).status_code == 200
    print(f"warm-up of the search (intake's search index follows its log once): "
          f"{time.perf_counter() - warm:.1f} s", flush=True)
    found["search"] = []
    queries = ("nguyen van an", "Trần Thị Hoa", "dang duc", "bui", "khach{n}@example.vn",
               "09{n:08d}")
    for i in range(requests // 2):
        n = rng.randrange(0, cases, 2)
        q = queries[i % len(queries)].format(n=n)
        started = time.perf_counter()
        r = await client.get("/queue", params={"q": q})
        found["search"].append((time.perf_counter() - started) * 1000)
        assert r.status_code == 200, r.text[:500]
        assert 'href="/cases/' in r.text, f"no match for {q!r}"
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="console-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HOTRO_LOG_JSON", "false")
    marker = folder / "filled"
    if not marker.exists():
        write_users_and_keys(folder)
        print(f"filling {args.cases} cases into {folder} …", flush=True)
        seconds = fill(folder, args.cases)
        marker.write_text(str(args.cases))
        print(f"filled in {seconds:.0f} s ({args.cases / seconds:.0f} cases/s)", flush=True)
    else:
        print(f"reusing {marker.read_text()} cases in {folder}", flush=True)
    found = asyncio.run(measure(folder, args.requests))
    for name, values in found.items():
        print(f"{name} page: n={len(values)} p50={statistics.median(values):.1f} ms "
              f"p95={pct(values, 0.95):.1f} ms max={max(values):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
