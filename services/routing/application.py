"""Routing's service layer: step 2 of the process, case by case.

Upstream events open and advance cases; staff act through ``act``. A business refusal
while reacting to an event (e.g. information arriving for a closed case) becomes a note on
the case — an event staff can see — never a lost message."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, ClassVar

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent

from services.routing.domain.case import Case
from services.routing.domain.catalogue import Catalogue
from services.routing.domain.permissions import authorize
from services.routing.domain.triage import TriageRules
from services.routing.domain.workflow import Action, CaseError
from shared.contracts import events as wire
from shared.contracts.envelope import Envelope
from shared.contracts.topology import subscriptions_of
from shared.eventstore.application import Handler, ServiceApplication, WireEvent


class CaseNotFound(LookupError):
    pass


class RoutingApplication(ServiceApplication):
    name: ClassVar[str] = "routing"
    subscriptions: ClassVar[dict[str, tuple[str, ...]]] = subscriptions_of("routing")

    def __init__(self, env: dict[str, str] | None = None,
                 clock: Callable[[], datetime] | None = None, *,
                 catalogue: Catalogue, triage: TriageRules,
                 auto_refuse_late: bool = True, auto_close_after_reply: bool = True) -> None:
        super().__init__(env, clock)
        self.catalogue = catalogue
        self.triage = triage
        self.auto_refuse_late = auto_refuse_late
        self.auto_close_after_reply = auto_close_after_reply

    # ---- reactions ---------------------------------------------------------------------

    def handlers(self) -> dict[str, Handler]:
        return {
            "ComplaintReceived": self._on_received,
            "InfoProvided": self._on_info_provided,
            "ReplySent": self._on_reply_sent,
            "NotificationFailed": self._on_notification_failed,
        }

    def _on_received(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        if self._find(env.complaint_id) is not None:
            return
        trace = self.reaction_trace(env, "routing")
        now = self.clock()
        case = Case.open(complaint_id=env.complaint_id, reference=p.reference, kind=p.kind,
                         channel=p.channel, received_at=p.received_at, product=p.product,
                         category=p.category, incident_date=p.incident_date,
                         filed_late=p.filed_late, filing_deadline=p.filing_deadline,
                         language=p.language, trace=trace, now=now)
        case.apply_triage(self.triage.evaluate(p.kind, p.product, p.category, p.description),
                          trace=trace, now=now)
        if p.filed_late and self.auto_refuse_late:
            deadline = p.filing_deadline.strftime("%d/%m/%Y") if p.filing_deadline else "?"
            case.refuse(reason="late_filing",
                        explanation=f"filed after the filing deadline ({deadline})",
                        trace=trace, now=now)
        else:
            case.start_analysis(trace=trace, now=now)
        pe.collect_events(case)

    def _on_info_provided(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        case = self._require(env.complaint_id)
        trace = self.reaction_trace(env, "routing")
        items = [i for i in p.items if i in case.checklist] or list(case.open_checklist_items)
        self._or_note(case, trace, env, lambda: case.record_info_provided(
            items=items, channel=p.channel, note=p.content[:2000],
            attachments=[a.model_dump() for a in p.attachments], trace=trace,
            now=self.clock()))
        pe.collect_events(case)

    def _on_reply_sent(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        if p.purpose not in ("reply",):
            return
        case = self._require(env.complaint_id)
        trace = self.reaction_trace(env, "routing")
        now = self.clock()
        self._or_note(case, trace, env, lambda: case.record_reply_sent(
            method=p.method, proof=p.proof, sent_at=p.sent_at, trace=trace, now=now))
        if self.auto_close_after_reply and case.can(Action.CLOSE):
            case.close(reason="replied to the customer", trace=trace, now=now)
        pe.collect_events(case)

    def _on_notification_failed(self, env: Envelope, p: Any,
                                pe: ProcessingEvent[uuid.UUID]) -> None:
        case = self._find(env.complaint_id)
        if case is None:
            return
        case.add_note(text=f"delivery of {p.purpose} by {p.method} failed after "
                           f"{p.attempts} attempt(s): {p.reason}",
                      trace=self.reaction_trace(env, "routing"), now=self.clock())
        pe.collect_events(case)

    def _or_note(self, case: Case, trace: dict[str, str | None], env: Envelope,
                 action: Callable[[], None]) -> None:
        try:
            action()
        except CaseError as exc:
            case.add_note(text=f"{env.event_type} from {env.producer} not applied: {exc}",
                          trace=trace, now=self.clock())

    # ---- staff commands ----------------------------------------------------------------

    def act(self, complaint_id: uuid.UUID, action: Action, *, role: str,
            department: str | None, trace: dict[str, str | None],
            **arguments: Any) -> Case:
        """One staff action: authorised, checked by the aggregate, saved — or refused with
        an error and no event."""
        case = self._require(complaint_id)
        authorize(role, action, case, department)
        now = self.clock()
        if action is Action.REOPEN:
            arguments.setdefault("within_days", self.catalogue.policy.reopen_period_days)
        if action is Action.REFER:
            self.catalogue.department(arguments["department"])
        getattr(case, action.value)(**arguments, trace=trace, now=now)
        self.save(case)
        return case

    # ---- queries -----------------------------------------------------------------------

    def get_case(self, complaint_id: uuid.UUID) -> Case:
        return self._require(complaint_id)

    def _find(self, complaint_id: uuid.UUID) -> Case | None:
        try:
            case: Case = self.repository.get(Case.create_id(complaint_id))
        except AggregateNotFoundError:
            return None
        return case

    def _require(self, complaint_id: uuid.UUID) -> Case:
        case = self._find(complaint_id)
        if case is None:
            raise CaseNotFound(str(complaint_id))
        return case

    # ---- outbox mapping ----------------------------------------------------------------

    def to_wire(self, e: Any) -> WireEvent | None:
        if not isinstance(e, Case.Event) or not hasattr(e, "trace"):
            return None
        payload = self._payload(e)
        if payload is None:
            return None
        case: Case = self.repository.get(e.originator_id, version=e.originator_version)
        return WireEvent(case.complaint_id, payload)

    def _payload(self, e: Any) -> wire.Payload | None:
        name = type(e).__name__
        if name in ("InfoRequested", "ReferredToDepartment", "DepartmentResponded",
                    "ReplyRequested", "Refused", "Closed", "Reopened"):
            case: Case = self.repository.get(e.originator_id, version=e.originator_version)
            ref = case.reference
        else:
            return None
        if name == "InfoRequested":
            return wire.InfoRequested(reference=ref, items=tuple(e.items),
                                      due_date=date.fromisoformat(e.due_date),
                                      message=e.message, round=e.round)
        if name == "ReferredToDepartment":
            return wire.ReferredToDepartment(
                reference=ref, department=e.department, question=e.question,
                internal_due=date.fromisoformat(e.internal_due) if e.internal_due else None)
        if name == "DepartmentResponded":
            return wire.DepartmentResponded(reference=ref, department=e.department,
                                            result=e.result,
                                            attachments=tuple(e.attachments))
        if name == "ReplyRequested":
            return wire.ReplyRequested(reference=ref, method=e.method, content=e.content,
                                       language=e.language)
        if name == "Refused":
            return wire.ComplaintRefused(
                reference=ref, reason=e.reason, explanation=e.explanation,
                filing_deadline=date.fromisoformat(e.filing_deadline)
                if e.filing_deadline else None)
        if name == "Closed":
            return wire.ComplaintClosed(reference=ref, reason=e.reason)
        return wire.ComplaintReopened(reference=ref, reason=e.reason)
