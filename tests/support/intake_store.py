"""An intake application over a real store, and a complaint received through it: what the
tests of the store-facing machinery (relay pages, kept envelopes, followers) start from."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from hotro.services.intake.application import IntakeApplication, NewRequest
from hotro.shared.eventstore.persistence import persistence_env
from hotro.shared.eventstore.schema import ensure_store
from hotro.shared.eventstore.trace import Trace


def intake_on(url: str, hash_secret: bytes,
              clock: Callable[[], datetime] | None = None) -> IntakeApplication:
    """One replica of intake over the store at ``url`` (created if need be)."""
    ensure_store(url)
    return IntakeApplication(env=persistence_env(url), clock=clock, hash_secret=hash_secret)


def receive_complaint(app: IntakeApplication, n: int, product: str | None = None) -> None:
    """The ``n``-th web complaint, from a customer of its own."""
    app.receive(NewRequest(kind="complaint", channel="web",
                           customer={"name": "Khách", "email": f"k{n}@example.vn"},
                           description="Máy lạnh hỏng", product=product),
                Trace.system("test").as_dict())
