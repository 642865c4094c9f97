"""Routing's service layer: step 2 of the process, case by case.

Upstream events open and advance cases; staff act through ``act``. A business refusal
while reacting to an event (e.g. information arriving for a closed case) becomes a note on
the case — an event staff can see — never a lost message."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Literal

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.persistence import IntegrityError

from hotro.services.routing.domain.case import Case
from hotro.services.routing.domain.catalogue import Catalogue
from hotro.services.routing.domain.permissions import authorize
from hotro.services.routing.domain.triage import TriageRules
from hotro.services.routing.domain.workflow import Action, CaseError, InvalidCommand, State
from hotro.shared.contracts import events as wire
from hotro.shared.contracts.envelope import Envelope
from hotro.shared.eventstore.application import ServiceApplication, WireEvent, handles

#: What happens when the customer never answers an information request (sla reports the
#: "customer_info" clock breached): back to analysis with what support has, or withdrawn.
InfoTimeoutOutcome = Literal["resume_analysis", "withdraw"]

#: Clocks whose approaching/breached status routing shows, and the states where each one
#: still describes the case (other reports are stale: the case moved on).
_CLOCK_APPLIES: dict[str, frozenset[State]] = {
    "customer_info": frozenset({State.AWAITING_CUSTOMER_INFO}),
    "department": frozenset({State.REFERRED_TO_DEPARTMENT}),
    "reply": frozenset(State) - {State.REPLIED, State.CLOSED, State.REFUSED,
                                 State.WITHDRAWN},
    "first_contact": frozenset({State.NEW, State.ANALYSING}),
}


class CaseNotFound(LookupError):
    pass


class ConcurrentChange(CaseError):
    """Someone else changed the case between reading and saving it; no event was stored."""


class RoutingApplication(ServiceApplication):
    name = "routing"

    def __init__(self, env: dict[str, str] | None = None,
                 clock: Callable[[], datetime] | None = None, *,
                 catalogue: Catalogue, triage: TriageRules,
                 auto_refuse_late: bool = True, auto_close_after_reply: bool = True,
                 customer_info_timeout: InfoTimeoutOutcome = "resume_analysis") -> None:
        super().__init__(env, clock)
        self.catalogue = catalogue
        self.triage = triage
        self.auto_refuse_late = auto_refuse_late
        self.auto_close_after_reply = auto_close_after_reply
        self.customer_info_timeout = customer_info_timeout

    def reload_triage(self, rules: TriageRules) -> None:
        """Swap the triage rules (already validated); new cases use them at once."""
        self.triage = rules

    # ---- reactions ---------------------------------------------------------------------

    @handles("intake.ComplaintReceived")
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

    @handles("intake.InfoProvided")
    def _on_info_provided(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        case = self._require(env.complaint_id)
        trace = self.reaction_trace(env, "routing")
        # Only items the customer (or the staff member taking it) named are ticked: a free
        # text answer ticks nothing, support ticks what it finds (record_info_provided).
        items = [i for i in p.items if i in case.checklist]
        note = p.content[:2000]
        stray = [i for i in p.items if i not in case.checklist]
        if stray:
            note += f"\n[also named, not on the checklist: {', '.join(stray)}]"
        self._or_note(case, trace, env, lambda: case.record_info_provided(
            items=items, channel=p.channel, note=note,
            attachments=[a.model_dump() for a in p.attachments], trace=trace,
            now=self.clock()))
        pe.collect_events(case)

    @handles("notify.ReplySent")
    def _on_reply_sent(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        case = self._find(env.complaint_id)
        if case is None:
            return
        trace = self.reaction_trace(env, "routing")
        now = self.clock()
        if p.purpose != "reply":
            # Refusals, information requests and reminders: shown on the case's timeline.
            case.add_note(text=f"{p.purpose} delivered by {p.method} (proof {p.proof})"
                               + (f", recorded by {p.recorded_by}" if p.recorded_by else ""),
                          trace=trace, now=now)
            pe.collect_events(case)
            return
        summary = f"recorded by {p.recorded_by} in notify" if p.recorded_by else ""
        self._or_note(case, trace, env, lambda: case.record_reply_sent(
            method=p.method, proof=p.proof, sent_at=p.sent_at, summary=summary,
            trace=trace, now=now))
        if self.auto_close_after_reply and case.can(Action.CLOSE):
            case.close(reason=f"replied to the customer by {p.method}", trace=trace, now=now)
        pe.collect_events(case)

    @handles("notify.NotificationFailed")
    def _on_notification_failed(self, env: Envelope, p: Any,
                                pe: ProcessingEvent[uuid.UUID]) -> None:
        case = self._find(env.complaint_id)
        if case is None:
            return
        case.add_note(text=f"delivery of {p.purpose} by {p.method} failed after "
                           f"{p.attempts} attempt(s): {p.reason}",
                      trace=self.reaction_trace(env, "routing"), now=self.clock())
        pe.collect_events(case)

    @handles("intake.DeliveryBounced")
    def _on_bounced(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        case = self._find(env.complaint_id)
        if case is None:
            return
        case.add_note(text=f"our email {p.message_id} bounced: {p.reason}",
                      trace=self.reaction_trace(env, "routing"), now=self.clock())
        pe.collect_events(case)

    @handles("sla.DeadlineApproaching", "sla.DeadlineBreached")
    def _on_deadline(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        case = self._find(env.complaint_id)
        if case is None or not self._deadline_applies(case, p):
            return  # stale (the case moved on) or not routing's concern: tracked, ignored
        status = "breached" if env.event_type == "DeadlineBreached" else "approaching"
        known = case.deadlines.get(p.clock)
        if known and known["status"] == status and known["last_day"] == p.last_day.isoformat():
            return
        trace = self.reaction_trace(env, "routing")
        now = self.clock()
        case.record_deadline(clock=p.clock, status=status, last_day=p.last_day,
                             due_at=p.due_at,
                             working_days_left=getattr(p, "working_days_left", None),
                             trace=trace, now=now)
        if status == "breached" and p.clock == "customer_info":
            self._customer_never_answered(case, trace, now)
        pe.collect_events(case)

    def _customer_never_answered(self, case: Case, trace: dict[str, str | None],
                                 now: datetime) -> None:
        due = case.info_due_date
        missing = ", ".join(case.open_checklist_items) or "none"
        if self.customer_info_timeout == "withdraw":
            case.withdraw(reason=f"the customer did not provide the requested information "
                                 f"by {due} (missing: {missing})", trace=trace, now=now)
            return
        case.lapse_info_request(trace=trace, now=now)
        case.add_note(text=f"no answer from the customer by {due} (missing: {missing}); "
                           "back to analysis with the information at hand",
                      trace=trace, now=now)

    @staticmethod
    def _deadline_applies(case: Case, p: Any) -> bool:
        states = _CLOCK_APPLIES.get(p.clock)
        if states is None or case.state not in states:
            return False
        if p.clock == "customer_info":  # only the current round's due date counts
            return bool(case.info_due_date == p.last_day.isoformat())
        return True

    def _or_note(self, case: Case, trace: dict[str, str | None], env: Envelope,
                 action: Callable[[], None]) -> None:
        try:
            action()
        except CaseError as exc:
            case.add_note(text=f"{env.event_type} from {env.producer} not applied: {exc}",
                          trace=trace, now=self.clock())

    # ---- staff commands ----------------------------------------------------------------

    def act(self, complaint_id: uuid.UUID, action: Action, *, role: str,
            actor_department: str | None, trace: dict[str, str | None],
            **arguments: Any) -> Case:
        """One staff action: authorised, checked by the aggregate, saved — or refused with
        an error and no event. ``actor_department``: the department of a department member
        (``department`` in ``arguments`` is the action's own, e.g. where to refer)."""
        case = self._require(complaint_id)
        authorize(role, action, case, actor_department)
        now = self.clock()
        if action is Action.REOPEN:
            arguments.setdefault("within_days", self.catalogue.policy.reopen_period_days)
        elif action is Action.REFER:
            self._known_department(arguments["department"])
        elif action is Action.REQUEST_INFO:
            unknown = [i for i in arguments["items"] if i not in self.catalogue.checklist_codes]
            if unknown:
                raise InvalidCommand(f"unknown checklist items {unknown} "
                                     f"(known: {sorted(self.catalogue.checklist_codes)})")
        elif action is Action.RECORD_DEPARTMENT_RESPONSE and not arguments.get("department"):
            arguments["department"] = actor_department or case.department
        getattr(case, action.value)(**arguments, trace=trace, now=now)
        try:
            self.save(case)
        except IntegrityError:
            raise ConcurrentChange(f"case {case.reference} was changed at the same time; "
                                   "reload it and try again") from None
        return case

    def _known_department(self, code: str) -> None:
        try:
            self.catalogue.department(code)
        except KeyError:
            raise InvalidCommand(f"unknown department {code!r} (known: "
                                 f"{sorted(self.catalogue.department_codes)})") from None

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
        name = type(e).__name__
        if name not in _PUBLISHED:
            return None
        if name in _PUBLISHED_WHEN_STAFF and e.trace.get("actor_kind") == "system":
            return None  # a reaction to another service's event: it already knows
        case: Case = self.repository.get(e.originator_id, version=e.originator_version)
        return WireEvent(case.complaint_id, _payload(name, e, case.reference))


#: Stored events that other services hear about.
_PUBLISHED = frozenset({"InfoRequested", "InfoProvided", "ReferredToDepartment",
                        "DepartmentResponded", "ReplyRequested", "ReplySent", "Refused",
                        "Closed", "Withdrawn", "Reopened"})
#: ...of which these only when staff recorded them in routing (information handed in at
#: the counter, a reply given by phone): otherwise they came from intake or notify.
_PUBLISHED_WHEN_STAFF = frozenset({"InfoProvided", "ReplySent"})


def _payload(name: str, e: Any, ref: str) -> wire.Payload:
    if name == "InfoRequested":
        return wire.InfoRequested(reference=ref, items=tuple(e.items),
                                  due_date=date.fromisoformat(e.due_date),
                                  message=e.message, round=e.round)
    if name == "InfoProvided":
        return wire.InfoProvided(reference=ref, channel=e.channel, content=e.note,
                                 items=tuple(e.items))
    if name == "ReferredToDepartment":
        return wire.ReferredToDepartment(
            reference=ref, department=e.department, question=e.question,
            internal_due=date.fromisoformat(e.internal_due) if e.internal_due else None)
    if name == "DepartmentResponded":
        return wire.DepartmentResponded(reference=ref, department=e.department,
                                        result=e.result, attachments=tuple(e.attachments))
    if name == "ReplyRequested":
        return wire.ReplyRequested(reference=ref, method=e.method, content=e.content,
                                   language=e.language)
    if name == "ReplySent":
        return wire.ReplySent(reference=ref, purpose="reply", method=e.method,
                              sent_at=e.sent_at, proof=e.proof,
                              recorded_by=e.trace.get("actor_id"))
    if name == "Refused":
        return wire.ComplaintRefused(
            reference=ref, reason=e.reason, explanation=e.explanation,
            filing_deadline=date.fromisoformat(e.filing_deadline)
            if e.filing_deadline else None)
    if name == "Closed":
        return wire.ComplaintClosed(reference=ref, reason=e.reason)
    if name == "Withdrawn":
        # No contract of its own: for sla and the audit trail the case is closed.
        return wire.ComplaintClosed(reference=ref, reason=f"withdrawn: {e.reason}".rstrip(": "))
    return wire.ComplaintReopened(reference=ref, reason=e.reason)
