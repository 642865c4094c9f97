"""What intake publishes: each stored event that another service needs, as its contract."""

from __future__ import annotations

from typing import Any

from hotro.services.intake.domain import Request
from hotro.shared.contracts import events as wire
from hotro.shared.eventstore.application import WireEvent
from hotro.shared.privacy.sealing import is_sealed


def to_wire(domain_event: Any) -> WireEvent | None:
    if isinstance(domain_event, Request.Received):
        d = domain_event.details
        # v2 carries the contact exactly as stored (sealed): publishing needs no key and
        # re-publishing gives the same bytes. Only events stored before sealing go v1.
        received: type[wire.ComplaintReceived] = wire.ComplaintReceived
        customer: Any
        if is_sealed(domain_event.customer):
            received = wire.ComplaintReceivedV2
            customer = wire.SealedContact(**domain_event.customer)
        else:
            customer = wire.CustomerContact(**domain_event.customer)
        return WireEvent(domain_event.originator_id, received(
            reference=domain_event.reference, kind=domain_event.kind,
            channel=domain_event.channel,
            customer=customer,
            product=d.get("product"), category=d.get("category"),
            incident_date=d.get("incident_date"),
            received_at=domain_event.received_at, description=d["description"],
            order_ref=d.get("order_ref"), attachments=tuple(d.get("attachments") or ()),
            taken_by=d.get("taken_by"), filed_late=domain_event.filed_late,
            filing_deadline=domain_event.filing_deadline,
            language=d.get("language") or "vi",
            inbound_message_id=d.get("inbound_message_id"),
            **_incident_date_source(d),
        ))
    if isinstance(domain_event, Request.DeliveryBounced):
        return WireEvent(domain_event.originator_id, wire.DeliveryBounced(
            reference=domain_event.reference, message_id=domain_event.message_id,
            reason=domain_event.reason))
    if isinstance(domain_event, Request.CapabilityRevoked):
        # the reason stays here (staff's words); notify sends a link of the new generation
        return WireEvent(domain_event.originator_id, wire.CustomerLinkReissued(
            reference=domain_event.reference, generation=domain_event.generation))
    if isinstance(domain_event, Request.InfoProvided):
        return WireEvent(domain_event.originator_id, wire.InfoProvided(
            reference=domain_event.reference, channel=domain_event.channel,
            content=domain_event.content,
            items=tuple(domain_event.items), attachments=tuple(domain_event.attachments),
            inbound_message_id=domain_event.inbound_message_id,
        ))
    if isinstance(domain_event, Request.WithdrawalAsked):
        return WireEvent(domain_event.originator_id, wire.WithdrawalRequested(
            reference=domain_event.reference, reason=domain_event.reason))
    if isinstance(domain_event, Request.IncidentDateGiven):
        reference = getattr(domain_event, "reference", None)
        if reference is None:
            return None  # stored before it was published: nobody downstream waits for it
        return WireEvent(domain_event.originator_id, wire.IncidentDateGiven(
            reference=reference, incident_date=domain_event.incident_date,
            filed_late=domain_event.filed_late,
            filing_deadline=domain_event.filing_deadline, phrase=domain_event.phrase))
    return None


def _incident_date_source(details: dict[str, Any]) -> dict[str, Any]:
    """Where the incident date came from, for requests that record it (absent before)."""
    source = details.get("incident_date_source") or {}
    if source.get("source") == "extracted_from_text":
        return {"incident_date_source": "extracted_from_text",
                "incident_date_phrase": source.get("phrase")}
    if source.get("source") == "form":
        return {"incident_date_source": "form"}
    return {}
