"""Read a service's store the way an auditor would: count events per complaint."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.eventstore.persistence import persistence_env

# Defines (and so registers the pinned topics of) every service's OperatorAction: a store
# read in a process that never served it holds them (e.g. a relay replay's record).
from hotro.shared.runtime import operator_actions  # noqa: F401


def open_store(app_class: type[ServiceApplication], store_url: str,
               **kwargs: Any) -> ServiceApplication:
    return app_class(env=persistence_env(store_url), **kwargs)


def event_counts(app: ServiceApplication) -> Counter[tuple[uuid.UUID, str]]:
    """(complaint id, event class name) -> how many stored. The complaint id comes from the
    event (``complaint_id`` attribute) or, for aggregates keyed by it, the aggregate."""
    counts: Counter[tuple[uuid.UUID, str]] = Counter()
    position = 0
    while True:
        notes = app.recorder.select_notifications(start=position, limit=1000,
                                                  inclusive_of_start=False)
        if not notes:
            return counts
        for n in notes:
            event = app.mapper.to_domain_event(n)
            complaint_id = getattr(event, "complaint_id", None) or event.originator_id
            counts[(complaint_id, type(event).__qualname__)] += 1
            position = n.id


def per_complaint(counts: Counter[tuple[uuid.UUID, str]], event_name: str) -> Counter[uuid.UUID]:
    return Counter({cid: n for (cid, name), n in counts.items() if name == event_name})


def open_service_store(service: str, store_url: str) -> ServiceApplication:
    """A service's application over its store (to read its log as an auditor would)."""
    from pathlib import Path

    from hotro.services.intake.application import IntakeApplication
    from hotro.services.notify.application import NotifyApplication

    env = persistence_env(store_url)
    if service == "intake":
        return IntakeApplication(env=env)
    if service == "notify":
        return NotifyApplication(env=env)
    if service == "routing":
        from hotro.services.routing.adapters.config_files import (
            load_catalogue,
            load_triage_rules,
        )
        from hotro.services.routing.application import RoutingApplication
        from hotro.services.routing.settings import RoutingSettings

        s = RoutingSettings.model_fields
        catalogue = load_catalogue(Path(s["catalogue_file"].default))
        return RoutingApplication(env=env, catalogue=catalogue,
                                  triage=load_triage_rules(Path(s["triage_file"].default),
                                                           catalogue))
    from hotro.services.sla.adapters.calendar_data import load_planner
    from hotro.services.sla.application import SlaApplication

    return SlaApplication(env=env, planner=load_planner())
