"""What operators did, recorded in the service's own store.

Every ops endpoint (``/ops/…``: relay replay, triage reload…) records the call as one
``OperatorAction`` — who (the operator's id, role and kind of credential), what (the
action's name), its arguments, its outcome and when — in the store of the service it was
made on, beside the service's other events: the audit trail shows operator actions like
any other change, and ``hotro audit verify`` covers them. The event is internal: no
service's outbox mapping publishes it.

One aggregate, defined here once for every service, with the service's name in its pinned
topics (``hotro.<service>:OperatorAction.Recorded``) like the rest of that service's
events. The classes are made when this module is imported, so a process that only reads a
store (the audit tools) resolves the topics too.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any, Protocol, cast

from eventsourcing.domain import Aggregate, event

from hotro.shared.contracts.topology import PRODUCES
from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.eventstore.trace import Trace
from hotro.shared.staff.http import Principal

log = logging.getLogger(__name__)

TraceDict = dict[str, str | None]


class OperatorActionRecord(Protocol):
    """What a recorded operator action holds (every service's class has these)."""

    id: uuid.UUID
    service: str
    operator_id: str
    operator_role: str
    credential: str
    action: str
    arguments: dict[str, Any]
    outcome: str
    at: str


def _define(service: str) -> type[Aggregate]:
    prefix = f"hotro.{service}:OperatorAction"

    class OperatorAction(Aggregate):
        TOPIC = prefix

        class Created(Aggregate.Created):
            # Required beside a pinned TOPIC; the decorated __init__ event is stored.
            TOPIC = f"{prefix}.Created"

        class Recorded(Created):
            TOPIC = f"{prefix}.Recorded"
            operator_id: str
            operator_role: str
            credential: str
            action: str
            arguments: dict[str, Any]
            outcome: str
            at: str
            trace: TraceDict

        @event(Recorded)
        def __init__(self, *, operator_id: str, operator_role: str, credential: str,
                     action: str, arguments: dict[str, Any], outcome: str, at: str,
                     trace: TraceDict) -> None:
            self.service = service
            self.operator_id = operator_id
            self.operator_role = operator_role
            self.credential = credential
            self.action = action
            self.arguments = arguments
            self.outcome = outcome
            self.at = at
            self.trace = trace

    OperatorAction.__qualname__ = f"OperatorAction[{service}]"
    return OperatorAction


#: the OperatorAction aggregate of each service (topics ``hotro.<service>:OperatorAction…``)
OPERATOR_ACTIONS: Mapping[str, type[Aggregate]] = {s: _define(s) for s in PRODUCES}


def operator_action_type(service: str) -> type[Aggregate]:
    try:
        return OPERATOR_ACTIONS[service]
    except KeyError:
        raise ValueError(f"no OperatorAction for service {service!r}") from None


def record_operator_action(app: ServiceApplication, principal: Principal, action: str,
                           arguments: Mapping[str, Any], outcome: str = "done"
                           ) -> OperatorActionRecord:
    """Store (and log) that ``principal`` ran ``action`` with ``arguments`` on this
    service now. ``arguments`` must be JSON values (they are stored as they are)."""
    kind = operator_action_type(app.name)
    at = app.clock().isoformat()
    trace = Trace(actor_kind="staff", actor_id=principal.id, actor_role=principal.role.value,
                  correlation_id=str(uuid.uuid4())).as_dict()
    record = cast(Any, kind)(operator_id=principal.id, operator_role=principal.role.value,
                             credential=principal.credential, action=action,
                             arguments=dict(arguments), outcome=outcome, at=at, trace=trace)
    app.save(record)
    log.warning("operator action on %s: %s by %s (%s) with %s: %s", app.name, action,
                principal.id, principal.credential, dict(arguments), outcome)
    return cast(OperatorActionRecord, record)


def operator_actions(app: ServiceApplication) -> list[OperatorActionRecord]:
    """Every operator action recorded in the service's store, in log order."""
    prefix = f"hotro.{app.name}:OperatorAction."
    operator_action_type(app.name)  # a known service
    found: list[OperatorActionRecord] = []
    start = 1
    while True:
        page = app.recorder.select_notifications(start=start, limit=500)
        if not page:
            return found
        for notification in page:
            if notification.topic.startswith(prefix):
                found.append(cast(OperatorActionRecord,
                                  app.repository.get(uuid.UUID(str(notification.originator_id)))))
        start = page[-1].id + 1
