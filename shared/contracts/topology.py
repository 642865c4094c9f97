"""What each service publishes: its outbox mapping emits nothing else.

What each service consumes is not a table: it is the set of ``@handles`` marks on its
application (``ServiceApplication.subscriptions()``), gathered for provisioning by
``hotro.topology``.
"""

from __future__ import annotations

from types import MappingProxyType

#: What each service publishes (its outbox mapping must not emit anything else).
PRODUCES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType({
    "intake": ("ComplaintReceived", "InfoProvided", "DeliveryBounced", "CustomerLinkReissued",
               "IncidentDateGiven", "WithdrawalRequested"),
    "routing": ("InfoRequested", "InfoProvided", "ReferredToDepartment", "DepartmentResponded",
                "ReplyRequested", "ReplySent", "ComplaintRefused", "ComplaintClosed",
                "ComplaintReopened", "LateFilingAccepted", "FollowUpReceived",
                "LateFilingFound"),
    "sla": ("DeadlineSet", "DeadlineApproaching", "DeadlineBreached", "DeadlineMet",
            "DeadlineReplanned"),
    "notify": ("AcknowledgementSent", "ReplySent", "NotificationFailed"),
})
