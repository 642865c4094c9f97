"""The four applications on in-memory (or SQLite) stores, wired by ``Pump`` (no NATS)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from hotro.audit.simulate import Pump
from hotro.audit.stores import Stores, from_applications
from hotro.services.intake.application import IntakeApplication, NewRequest
from hotro.services.notify.application import NotifyApplication
from hotro.services.routing.adapters.config_files import load_catalogue, load_triage_rules
from hotro.services.routing.application import RoutingApplication
from hotro.services.routing.domain.workflow import Action
from hotro.services.routing.settings import CONFIG_DIR
from hotro.services.sla.adapters.calendar_data import load_planner
from hotro.services.sla.application import SlaApplication
from hotro.shared.clock import SettableClock
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.trace import Trace
from hotro.shared.reference import CATALOGUE_FILE

CUSTOMER = {"name": "Nguyễn Thị Ánh", "phone": "+84912345678",
            "email": "anh.nguyen@example.com", "address": "12 Hàng Bài, Hà Nội"}
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 09:00 in Hà Nội

CATALOGUE = load_catalogue(CATALOGUE_FILE)
TRIAGE = load_triage_rules(CONFIG_DIR / "triage.toml", CATALOGUE)


def _env(url: str) -> dict[str, str]:
    return persistence_env(url, allow_memory=True)


@dataclass
class World:
    clock: SettableClock
    apps: dict[str, Any]
    pump: Pump

    @property
    def stores(self) -> Stores:
        return from_applications(self.apps)

    def staff(self, actor: str = "demo.support", role: str = "support") -> dict[str, Any]:
        return Trace(actor_kind="staff", actor_id=actor, actor_role=role,
                     correlation_id=str(uuid.uuid4())).as_dict()

    def submit(self, **overrides: Any) -> uuid.UUID:
        fields: dict[str, Any] = dict(kind="complaint", channel="web", customer=CUSTOMER,
                                      description="Tủ lạnh mới mua không lạnh.",
                                      product="dien-lanh", category="chat-luong-san-pham")
        fields.update(overrides)
        accepted = self.apps["intake"].receive(
            NewRequest(**fields), Trace(actor_kind="customer", actor_id="web",
                                        correlation_id=str(uuid.uuid4())).as_dict())
        self.pump.settle()
        return accepted.request_id  # type: ignore[no-any-return]

    def act(self, cid: uuid.UUID, action: Action, actor: str = "demo.support",
            role: str = "support", actor_dept: str | None = None, **args: Any) -> None:
        self.apps["routing"].act(cid, action, role=role, actor_department=actor_dept,
                                 trace=self.staff(actor, role), **args)
        self.pump.settle()

    def advance(self, **delta: float) -> datetime:
        now = self.clock.advance(**delta)
        return now


def world(tmp: Path | None = None, start: datetime = T0) -> World:
    clock = SettableClock(start)

    def url(svc: str) -> str:
        return f"sqlite:///{tmp / f'{svc}.sqlite'}" if tmp else "memory:"

    planner = load_planner()
    apps: dict[str, Any] = {
        "intake": IntakeApplication(env=_env(url("intake")), clock=clock),
        "routing": RoutingApplication(env=_env(url("routing")), clock=clock,
                                      catalogue=CATALOGUE, triage=TRIAGE),
        "sla": SlaApplication(env=_env(url("sla")), clock=clock, planner=planner),
        "notify": NotifyApplication(env=_env(url("notify")), clock=clock),
    }
    return World(clock, apps, Pump(apps))


def due(w: World, days: int) -> date:
    return (w.clock() + timedelta(days=days)).date()
