"""Who consumes what: the one table provisioning and the services both read.

A service consumes exactly these (producer, EventType) pairs; provisioning turns them
into one durable pull consumer per (service, partition) with these filter subjects.
"""

from __future__ import annotations

from types import MappingProxyType

_TOPOLOGY: dict[str, dict[str, tuple[str, ...]]] = {
    "intake": {
        "notify": ("AcknowledgementSent", "ReplySent", "NotificationFailed"),
        "routing": ("ComplaintClosed", "ComplaintRefused", "ComplaintReopened"),
    },
    "routing": {
        "intake": ("ComplaintReceived", "InfoProvided", "DeliveryBounced"),
        "sla": ("DeadlineApproaching", "DeadlineBreached"),
        "notify": ("AcknowledgementSent", "ReplySent", "NotificationFailed"),
    },
    "sla": {
        "intake": ("ComplaintReceived", "InfoProvided"),
        "routing": ("InfoRequested", "InfoProvided", "ReferredToDepartment",
                    "DepartmentResponded", "ReplySent", "ComplaintRefused", "ComplaintClosed",
                    "ComplaintReopened"),
        "notify": ("AcknowledgementSent", "ReplySent"),
    },
    "notify": {
        "intake": ("ComplaintReceived", "DeliveryBounced"),
        "routing": ("InfoRequested", "ReferredToDepartment", "ReplyRequested",
                    "ComplaintRefused"),
        "sla": ("DeadlineApproaching", "DeadlineBreached"),
    },
}

#: What each service publishes (its outbox mapping must not emit anything else).
PRODUCES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType({
    "intake": ("ComplaintReceived", "InfoProvided", "DeliveryBounced"),
    "routing": ("InfoRequested", "InfoProvided", "ReferredToDepartment", "DepartmentResponded",
                "ReplyRequested", "ReplySent", "ComplaintRefused", "ComplaintClosed",
                "ComplaintReopened"),
    "sla": ("DeadlineSet", "DeadlineApproaching", "DeadlineBreached", "DeadlineMet",
            "DeadlineReplanned"),
    "notify": ("AcknowledgementSent", "ReplySent", "NotificationFailed"),
})

TOPOLOGY = MappingProxyType({k: MappingProxyType(v) for k, v in _TOPOLOGY.items()})


def subscriptions_of(service: str) -> dict[str, tuple[str, ...]]:
    return dict(TOPOLOGY.get(service, {}))
