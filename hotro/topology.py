"""Who consumes what, gathered from the services' handlers (``@handles`` marks).

Only the command line (provisioning, AsyncAPI, the audit simulation) needs the whole
table; a running service knows its own subscriptions from its application class."""

from __future__ import annotations

from types import MappingProxyType

from hotro.services.intake.application import IntakeApplication
from hotro.services.notify.application import NotifyApplication
from hotro.services.routing.application import RoutingApplication
from hotro.services.sla.application import SlaApplication
from hotro.shared.eventstore.application import ServiceApplication

APPLICATIONS: MappingProxyType[str, type[ServiceApplication]] = MappingProxyType({
    app.name: app
    for app in (IntakeApplication, RoutingApplication, SlaApplication, NotifyApplication)
})

#: {consumer: {producer: (EventType, ...)}}
TOPOLOGY: MappingProxyType[str, MappingProxyType[str, tuple[str, ...]]] = MappingProxyType({
    name: MappingProxyType(app.subscriptions()) for name, app in APPLICATIONS.items()
})
