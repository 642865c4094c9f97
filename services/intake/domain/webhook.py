"""The hotline webhook's replay record: one aggregate per accepted signature."""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event

from hotro.shared.contracts.envelope import HOTRO_NAMESPACE


class WebhookDelivery(Aggregate):
    """A signed call-centre notice we accepted. Its id is derived from the signature's
    digest, so a second save of the same signature conflicts in the store: a replay is
    refused on every replica, and the record outlives the accepted time window (it is
    never deleted; one small event per notice)."""

    TOPIC = "hotro.intake:WebhookDelivery"

    class Created(Aggregate.Created):
        # Required beside a pinned TOPIC; the decorated __init__ event is stored.
        TOPIC = "hotro.intake:WebhookDelivery.Created"

    @staticmethod
    def create_id(digest: str) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"intake/webhook-delivery/{digest}")

    @event("Accepted", topic="hotro.intake:WebhookDelivery.Accepted")
    def __init__(self, *, digest: str, signed_at: int, event: str, call_id: str,
                 trace: dict[str, str | None]) -> None:
        self.digest = digest
        self.signed_at = signed_at
        self.event = event
        self.call_id = call_id
