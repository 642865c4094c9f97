"""The case: routing's record of one complaint or advice request, from analysis to closing.

Each public command checks the state and its arguments, then triggers one event through a
private ``@event`` method. The checks never run on replay, so a changed rule (a shorter
reopen period, say) can never make stored history fail to load.

Every command takes ``trace`` (``Trace(...).as_dict()``) and ``now``: ``now`` becomes the
event's timestamp, so the domain never reads the clock. Event attributes are JSON-native;
dates are stored as ISO strings.

Every event other services hear about also names its case (``complaint_id``,
``reference``), so it can be published from the event alone. Events stored before they
did lack both; the ``None`` defaults let those replay.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, get_args

from eventsourcing.domain import Aggregate, event

from hotro.services.routing.domain.triage import TriageDecision
from hotro.services.routing.domain.workflow import (
    ALLOWED_FROM,
    ENDED_STATES,
    LATE_FILING_REVIEW_FROM,
    Action,
    CaseError,
    IllegalTransition,
    InvalidCommand,
    ReopenPeriodExpired,
    State,
)
from hotro.shared.clock import VIETNAM_TZ
from hotro.shared.contracts.envelope import HOTRO_NAMESPACE
from hotro.shared.contracts.events import Channel, ClockKind, ReplyMethod, RequestKind
from hotro.shared.eventstore.topics import register_topics
from hotro.shared.message_id import bare_message_id

TraceDict = dict[str, str | None]

KINDS: frozenset[str] = frozenset(get_args(RequestKind))
CHANNELS: frozenset[str] = frozenset(get_args(Channel))
REPLY_METHODS: frozenset[str] = frozenset(get_args(ReplyMethod))
REFUSAL_REASONS = frozenset({"late_filing", "not_eligible", "wrong_channel"})
LANGUAGES = frozenset({"vi", "en"})
CLOCKS: frozenset[str] = frozenset(get_args(ClockKind))
DEADLINE_STATUSES = frozenset({"approaching", "breached"})

#: The SLA clocks whose approaching/breached status an event settles: after it, the status
#: reported by sla no longer describes the case (a new round, an answer, an end).
SETTLES: dict[str, frozenset[str]] = {
    "InfoRequested": frozenset({"customer_info"}),
    "InfoProvided": frozenset({"customer_info"}),
    "InfoRequestLapsed": frozenset({"customer_info"}),
    "ReferredToDepartment": frozenset({"department"}),
    "DepartmentResponded": frozenset({"department"}),
    "ReplySent": frozenset({"reply", "first_contact"}),
    "Closed": CLOCKS,
    "Refused": CLOCKS,
    "Withdrawn": CLOCKS,
}


def settle_deadlines(deadlines: dict[str, Any], event_name: str) -> None:
    """Forget the deadline statuses ``event_name`` settles (shared with the read model)."""
    for clock in SETTLES.get(event_name, ()):
        deadlines.pop(clock, None)


def sla_status(deadlines: Mapping[str, Mapping[str, Any]]) -> str:
    """'breached' if any open clock is breached, else 'approaching', else 'on_track'."""
    statuses = {d["status"] for d in deadlines.values()}
    for status in ("breached", "approaching"):
        if status in statuses:
            return status
    return "on_track"


class Case(Aggregate):
    # Pinned topics: stored events name these, not the module path, so code can move.
    TOPIC = "hotro.routing:Case"
    #: cases stored or snapshotted before replies could come back undelivered
    reply_undelivered: dict[str, Any] | None = None
    #: the Message-IDs (bare, lower-case) of our emails that bounced with no delivered
    #: reply to match: a reply whose delivery is reported after its bounce is undelivered
    bounced_ids: tuple[str, ...] = ()

    class Event(Aggregate.Event):
        def apply(self, aggregate: Any) -> None:
            # Runs after the decorated method body, live and on replay: the timeline is
            # rebuilt from the events themselves.
            trace: Mapping[str, str | None] = getattr(self, "trace", {})
            settle_deadlines(aggregate.deadlines, type(self).__name__)
            aggregate.timeline.append({
                "event": type(self).__name__,
                "at": self.timestamp,
                "actor_id": trace.get("actor_id"),
                "actor_kind": trace.get("actor_kind"),
                "actor_role": trace.get("actor_role"),
                "state": aggregate.state.value,
            })

    class Created(Event, Aggregate.Created):
        # Never triggered ("Opened" creates a case); it exists because with a pinned
        # aggregate TOPIC the library requires every inherited event class to have one.
        TOPIC = "hotro.routing:Case.Created"

    @staticmethod
    def create_id(complaint_id: uuid.UUID) -> uuid.UUID:
        return uuid.uuid5(HOTRO_NAMESPACE, f"routing/case/{complaint_id}")

    # ---- opening -------------------------------------------------------------------

    @classmethod
    def open(cls, *, complaint_id: uuid.UUID, reference: str, kind: str, channel: str,
             received_at: datetime, product: str | None = None, category: str | None = None,
             incident_date: date | None = None, filed_late: bool = False,
             filing_deadline: date | None = None, language: str = "vi",
             trace: TraceDict, now: datetime) -> Case:
        """Open the case for an upstream ComplaintReceived. Id: ``create_id(complaint_id)``."""
        _require_aware(now, "now")
        _require_aware(received_at, "received_at")
        _require_text(reference, "reference")
        _require_member(kind, KINDS, "kind")
        _require_member(channel, CHANNELS, "channel")
        _require_member(language, LANGUAGES, "language")
        return cls(complaint_id=complaint_id, reference=reference, kind=kind, channel=channel,
                   product=product, category=category, language=language,
                   received_at=received_at, incident_date=_iso(incident_date),
                   filed_late=filed_late, filing_deadline=_iso(filing_deadline),
                   trace=trace, timestamp=now)

    @event("Opened", topic="hotro.routing:Case.Opened")
    def __init__(self, *, complaint_id: uuid.UUID, reference: str, kind: str, channel: str,
                 product: str | None, category: str | None, language: str,
                 received_at: datetime, incident_date: str | None, filed_late: bool,
                 filing_deadline: str | None, trace: TraceDict, timestamp: datetime) -> None:
        self.complaint_id = complaint_id
        self.reference = reference
        self.kind = kind
        self.channel = channel
        self.product = product
        self.category = category
        self.language = language
        self.received_at = received_at
        self.incident_date = incident_date
        self.filed_late = filed_late
        self.filing_deadline = filing_deadline
        self.state = State.NEW
        self.triage: dict[str, Any] | None = None
        #: The department the case is (or was last) referred to.
        self.department: str | None = None
        self.referrals: list[dict[str, Any]] = []
        self.info_rounds = 0
        #: Checklist item code -> provided yet? Items asked again are reset to False.
        self.checklist: dict[str, bool] = {}
        self.info_due_date: str | None = None
        self.info_received: list[dict[str, Any]] = []
        self.resolution: str | None = None
        self.reply_request: dict[str, Any] | None = None
        self.reply_sent: dict[str, Any] | None = None
        #: the last reply that did not reach the customer (method, reason, proof, at),
        #: until another is requested or recorded
        self.reply_undelivered: dict[str, Any] | None = None
        self.ended_at: datetime | None = None
        self.outcome: dict[str, Any] | None = None
        self.reopen_count = 0
        self.notes: list[dict[str, Any]] = []
        #: SLA clock kind -> the latest approaching/breached status sla reported for it,
        #: while it still applies (see SETTLES).
        self.deadlines: dict[str, dict[str, Any]] = {}
        self.timeline: list[dict[str, Any]] = []
        #: the last day of the customer's reply clock, as sla set it (DeadlineSet): a
        #: department's due date may not pass it
        self.reply_last_day: str | None = None
        #: the supervisor's decision on a late filing: decision, reason, by, at
        self.filing_review: dict[str, Any] | None = None
        #: what the customer sent after the case ended; a supervisor may reopen it
        self.follow_ups: list[dict[str, Any]] = []
        self.follow_up_pending = False

    # ---- queries -------------------------------------------------------------------

    def can(self, action: Action) -> bool:
        if action is Action.DISMISS_FOLLOW_UP and not self.follow_up_pending:
            return False
        if (action is Action.RECORD_DEPARTMENT_RESPONSE
                and self.state is State.DEPARTMENT_RESPONDED):
            return self._answered_on_behalf()
        if action is Action.REQUEST_REPLY and self.state is State.REPLY_DUE:
            return self.reply_undelivered is not None
        return self.state in ALLOWED_FROM[action]

    def _answered_on_behalf(self) -> bool:
        """The last referral's answer was recorded by a supervisor for the department."""
        response = self.referrals[-1]["response"] if self.referrals else None
        return bool(response and response.get("on_behalf"))

    def allowed_actions(self) -> list[Action]:
        return [action for action in Action if self.can(action)]

    @property
    def is_ended(self) -> bool:
        return self.state in ENDED_STATES

    @property
    def open_checklist_items(self) -> list[str]:
        return [item for item, provided in self.checklist.items() if not provided]

    @property
    def sla_status(self) -> str:
        return sla_status(self.deadlines)

    # ---- a late filing, reviewed by a supervisor ----------------------------------------

    def await_filing_review(self, *, trace: TraceDict, now: datetime) -> None:
        """Filed after the filing deadline: nobody analyses it (and no reply clock runs)
        until a supervisor accepts it with a waiver or refuses it."""
        _require_aware(now, "now")
        if self.state is not State.NEW or not self.filed_late:
            raise CaseError(f"case {self.reference} is {self.state.value}"
                            f"{'' if self.filed_late else ', not filed late'}: no filing review")
        self._filing_review_opened(filing_deadline=self.filing_deadline, trace=trace,
                                   timestamp=now)

    @event("FilingReviewOpened", topic="hotro.routing:Case.FilingReviewOpened")
    def _filing_review_opened(self, *, filing_deadline: str | None, trace: TraceDict,
                              timestamp: datetime) -> None:
        self.state = State.AWAITING_FILING_REVIEW

    def record_incident_date(self, *, incident_date: date, filing_deadline: date,
                             filed_late: bool, trace: TraceDict, now: datetime) -> bool:
        """The incident date the complaint lacked, given later (intake judged the filing
        window as of receipt). Filed late and no way forward chosen yet: the case goes
        under filing review, an open information request included (the supervisor decides
        first). Otherwise only the date is recorded. False if the case already has a date
        (a redelivered or repeated event changes nothing)."""
        _require_aware(now, "now")
        if self.incident_date is not None:
            return False
        if filed_late and self.state in LATE_FILING_REVIEW_FROM:
            self._late_filing_found(incident_date=incident_date.isoformat(),
                                    filing_deadline=filing_deadline.isoformat(),
                                    previous_state=self.state.value, **self._names(),
                                    trace=trace, timestamp=now)
        else:
            self._incident_date_recorded(incident_date=incident_date.isoformat(),
                                         filing_deadline=filing_deadline.isoformat(),
                                         filed_late=filed_late, trace=trace, timestamp=now)
        return True

    @event("IncidentDateRecorded", topic="hotro.routing:Case.IncidentDateRecorded")
    def _incident_date_recorded(self, *, incident_date: str, filing_deadline: str,
                                filed_late: bool, trace: TraceDict,
                                timestamp: datetime) -> None:
        self.incident_date = incident_date
        self.filing_deadline = filing_deadline
        self.filed_late = filed_late

    @event("LateFilingFound", topic="hotro.routing:Case.LateFilingFound")
    def _late_filing_found(self, *, incident_date: str, filing_deadline: str,
                           previous_state: str, complaint_id: uuid.UUID,
                           reference: str, trace: TraceDict, timestamp: datetime) -> None:
        self.incident_date = incident_date
        self.filing_deadline = filing_deadline
        self.filed_late = True
        self.state = State.AWAITING_FILING_REVIEW

    def accept_late_filing(self, *, waiver_reason: str, trace: TraceDict,
                           now: datetime) -> None:
        """The supervisor waives the filing deadline (the reason is kept); analysis starts
        and the reply clock counts from now."""
        self._check(Action.ACCEPT_LATE_FILING, now)
        _require_text(waiver_reason, "waiver_reason")
        self._late_filing_accepted(waiver_reason=waiver_reason,
                                   filing_deadline=self.filing_deadline,
                                   product=self.product, category=self.category,
                                   **self._names(), trace=trace, timestamp=now)

    @event("LateFilingAccepted", topic="hotro.routing:Case.LateFilingAccepted")
    def _late_filing_accepted(self, *, waiver_reason: str, filing_deadline: str | None,
                              product: str | None, category: str | None,
                              complaint_id: uuid.UUID | None = None,
                              reference: str | None = None, trace: TraceDict,
                              timestamp: datetime) -> None:
        self.filing_review = {"decision": "accepted", "reason": waiver_reason,
                              "by": trace.get("actor_id"), "at": timestamp}
        self.state = State.ANALYSING

    def refuse_late_filing(self, *, filing_window_days: int, note: str = "",
                           trace: TraceDict, now: datetime) -> None:
        """The supervisor refuses the late filing; the customer reads the rule (the
        filing window in working days) and the last day it allowed, in their language."""
        self._check(Action.REFUSE_LATE_FILING, now)
        if filing_window_days < 1:
            raise InvalidCommand(f"filing_window_days must be positive, got {filing_window_days}")
        explanation = late_filing_explanation(self.language, self.kind, filing_window_days)
        if note.strip():
            explanation = f"{explanation}\n{note.strip()}"
        self._refused(reason="late_filing", explanation=explanation,
                      filing_deadline=self.filing_deadline, **self._names(), trace=trace,
                      timestamp=now)

    # ---- triage and analysis ---------------------------------------------------------

    def apply_triage(self, decision: TriageDecision, *, trace: TraceDict,
                     now: datetime) -> None:
        """Record a triage proposal. It changes no state: staff act on it."""
        self._check(Action.APPLY_TRIAGE, now)
        self._triage_applied(rule_id=decision.rule_id, outcome=decision.outcome,
                             department=decision.department,
                             checklist=list(decision.checklist),
                             explanation=decision.explanation, trace=trace, timestamp=now)

    @event("TriageApplied", topic="hotro.routing:Case.TriageApplied")
    def _triage_applied(self, *, rule_id: str, outcome: str, department: str | None,
                        checklist: list[str], explanation: str, trace: TraceDict,
                        timestamp: datetime) -> None:
        self.triage = {"rule_id": rule_id, "outcome": outcome, "department": department,
                       "checklist": list(checklist), "explanation": explanation}

    def start_analysis(self, *, trace: TraceDict, now: datetime) -> None:
        self._check(Action.START_ANALYSIS, now)
        self._analysis_started(trace=trace, timestamp=now)

    @event("AnalysisStarted", topic="hotro.routing:Case.AnalysisStarted")
    def _analysis_started(self, *, trace: TraceDict, timestamp: datetime) -> None:
        self.state = State.ANALYSING

    # ---- asking the customer for more information ------------------------------------

    def request_info(self, *, items: Sequence[str], due_date: date, message: str = "",
                     trace: TraceDict, now: datetime) -> None:
        """Ask the customer for documents (checklist item codes) by ``due_date``."""
        self._check(Action.REQUEST_INFO, now)
        if not items:
            raise InvalidCommand("request at least one checklist item", "no_items", field="items")
        for item in items:
            _require_text(item, "checklist item")
        if len(set(items)) != len(items):
            raise InvalidCommand(f"checklist items repeat: {list(items)}", "items_repeat",
                                 field="items")
        _require_not_past(due_date, now, "due_date")
        self._info_requested(items=list(items), due_date=due_date.isoformat(),
                             message=message, round=self.info_rounds + 1, **self._names(),
                             trace=trace, timestamp=now)

    @event("InfoRequested", topic="hotro.routing:Case.InfoRequested")
    def _info_requested(self, *, items: list[str], due_date: str, message: str, round: int,
                        complaint_id: uuid.UUID | None = None, reference: str | None = None,
                        trace: TraceDict, timestamp: datetime) -> None:
        self.info_rounds = round
        self.info_due_date = due_date
        for item in items:
            self.checklist[item] = False
        self.state = State.AWAITING_CUSTOMER_INFO

    def record_info_provided(self, *, items: Sequence[str], channel: str, note: str = "",
                             attachments: Sequence[Mapping[str, Any]] = (),
                             trace: TraceDict, now: datetime) -> None:
        """The customer sent information; ``items`` are the checklist items it covers
        (only items that were asked for). Support analyses again afterwards."""
        self._check(Action.RECORD_INFO_PROVIDED, now)
        _require_member(channel, CHANNELS, "channel")
        unknown = [item for item in items if item not in self.checklist]
        if unknown:
            raise InvalidCommand(f"items {unknown} were never requested "
                                 f"(checklist: {sorted(self.checklist)})", "never_requested",
                                 field="items", items=", ".join(unknown))
        self._info_provided(items=list(items), channel=channel, note=note,
                            attachments=[dict(a) for a in attachments], **self._names(),
                            trace=trace, timestamp=now)

    @event("InfoProvided", topic="hotro.routing:Case.InfoProvided")
    def _info_provided(self, *, items: list[str], channel: str, note: str,
                       attachments: list[dict[str, Any]],
                       complaint_id: uuid.UUID | None = None, reference: str | None = None,
                       trace: TraceDict, timestamp: datetime) -> None:
        for item in items:
            self.checklist[item] = True
        self.info_received.append({"at": timestamp, "channel": channel, "items": list(items),
                                   "note": note, "attachments": list(attachments)})
        self.state = State.ANALYSING

    def lapse_info_request(self, *, trace: TraceDict, now: datetime) -> None:
        """The customer did not answer by the due date: support analyses again with what
        it has (the unanswered items stay open on the checklist)."""
        _require_aware(now, "now")
        if self.state is not State.AWAITING_CUSTOMER_INFO:
            raise CaseError(f"case {self.reference} is {self.state.value}, "
                            "not awaiting customer information")
        self._info_request_lapsed(due_date=self.info_due_date or "",
                                  open_items=self.open_checklist_items, trace=trace,
                                  timestamp=now)

    @event("InfoRequestLapsed", topic="hotro.routing:Case.InfoRequestLapsed")
    def _info_request_lapsed(self, *, due_date: str, open_items: list[str], trace: TraceDict,
                             timestamp: datetime) -> None:
        self.state = State.ANALYSING

    # ---- the three ways forward -------------------------------------------------------

    def resolve(self, *, resolution: str, trace: TraceDict, now: datetime) -> None:
        """Support can answer the request itself."""
        self._check(Action.RESOLVE, now)
        _require_text(resolution, "resolution")
        self._resolved_by_support(resolution=resolution, trace=trace, timestamp=now)

    @event("ResolvedBySupport", topic="hotro.routing:Case.ResolvedBySupport")
    def _resolved_by_support(self, *, resolution: str, trace: TraceDict,
                             timestamp: datetime) -> None:
        self.resolution = resolution
        self.state = State.RESOLVED_BY_SUPPORT

    def refer(self, *, department: str, question: str, internal_due: date | None = None,
              trace: TraceDict, now: datetime) -> None:
        """Forward to the department in charge (a catalogue code the caller has checked)."""
        self._check(Action.REFER, now)
        _require_text(department, "department")
        _require_text(question, "question")
        if internal_due is not None:
            _require_not_past(internal_due, now, "internal_due")
            if self.reply_last_day is not None and internal_due.isoformat() > self.reply_last_day:
                last = date.fromisoformat(self.reply_last_day)
                raise InvalidCommand(
                    f"internal_due {internal_due:%d/%m/%Y} is after the customer's reply "
                    f"deadline {last:%d/%m/%Y}: the department must answer by then",
                    "after_reply_deadline", field="internal_due",
                    value=internal_due.isoformat(), deadline=last.isoformat())
        self._referred_to_department(department=department, question=question,
                                     internal_due=_iso(internal_due), **self._names(),
                                     trace=trace, timestamp=now)

    @event("ReferredToDepartment", topic="hotro.routing:Case.ReferredToDepartment")
    def _referred_to_department(self, *, department: str, question: str,
                                internal_due: str | None, complaint_id: uuid.UUID | None = None,
                                reference: str | None = None, trace: TraceDict,
                                timestamp: datetime) -> None:
        self.department = department
        self.referrals.append({"department": department, "question": question,
                               "internal_due": internal_due, "referred_at": timestamp,
                               "response": None})
        self.state = State.REFERRED_TO_DEPARTMENT

    def record_department_response(self, *, department: str, result: str,
                                   attachments: Sequence[Mapping[str, Any]] = (),
                                   trace: TraceDict, now: datetime) -> None:
        """The department's own answer (also after one recorded on its behalf)."""
        self._answer(Action.RECORD_DEPARTMENT_RESPONSE, department=department, result=result,
                     attachments=attachments, on_behalf=False, trace=trace, now=now)

    def record_department_response_on_behalf(
            self, *, department: str, result: str,
            attachments: Sequence[Mapping[str, Any]] = (), trace: TraceDict,
            now: datetime) -> None:
        """A supervisor records the department's answer received by phone or on paper;
        recorded as such (``on_behalf``), and the department can still add its own."""
        self._answer(Action.RECORD_DEPARTMENT_RESPONSE_ON_BEHALF, department=department,
                     result=result, attachments=attachments, on_behalf=True, trace=trace,
                     now=now)

    def _answer(self, action: Action, *, department: str, result: str,
                attachments: Sequence[Mapping[str, Any]], on_behalf: bool, trace: TraceDict,
                now: datetime) -> None:
        self._check(action, now)
        if department != self.department:
            raise InvalidCommand(f"case {self.reference} is referred to "
                                 f"{self.department!r}, not {department!r}",
                                 "not_referred_here", field="department",
                                 department=department)
        _require_text(result, "result")
        self._department_responded(department=department, result=result,
                                   attachments=[dict(a) for a in attachments], **self._names(),
                                   trace=trace, timestamp=now, on_behalf=on_behalf)

    @event("DepartmentResponded", topic="hotro.routing:Case.DepartmentResponded")
    def _department_responded(self, *, department: str, result: str,
                              attachments: list[dict[str, Any]],
                              complaint_id: uuid.UUID | None = None, reference: str | None = None,
                              trace: TraceDict, timestamp: datetime,
                              on_behalf: bool = False) -> None:
        previous = self.referrals[-1]["response"]
        response: dict[str, Any] = {"result": result, "attachments": list(attachments),
                                    "responded_at": timestamp, "on_behalf": on_behalf}
        if previous is not None:  # the department's own answer after one on its behalf
            response["recorded_on_behalf"] = previous
        self.referrals[-1]["response"] = response
        self.state = State.DEPARTMENT_RESPONDED

    # ---- the reply clock, as sla set it ---------------------------------------------------

    def note_reply_deadline(self, *, last_day: date, trace: TraceDict, now: datetime) -> bool:
        """sla set a reply clock (the first, or a reopen's): its last day bounds the
        department's due date. The same day again changes nothing (False)."""
        if self.reply_last_day == last_day.isoformat():
            return False
        self._reply_deadline_noted(last_day=last_day.isoformat(), trace=trace, timestamp=now)
        return True

    @event("ReplyDeadlineNoted", topic="hotro.routing:Case.ReplyDeadlineNoted")
    def _reply_deadline_noted(self, *, last_day: str, trace: TraceDict,
                              timestamp: datetime) -> None:
        self.reply_last_day = last_day

    # ---- replying to the customer (step 3) ----------------------------------------------

    def request_reply(self, *, method: str, content: str, language: str | None = None,
                      trace: TraceDict, now: datetime) -> None:
        """Ask notify to deliver the answer; the reply is then due."""
        self._check(Action.REQUEST_REPLY, now)
        _require_member(method, REPLY_METHODS, "method")
        _require_text(content, "content")
        language = language or self.language
        _require_member(language, LANGUAGES, "language")
        self._reply_requested(method=method, content=content, language=language,
                              **self._names(), trace=trace, timestamp=now)

    @event("ReplyRequested", topic="hotro.routing:Case.ReplyRequested")
    def _reply_requested(self, *, method: str, content: str, language: str,
                         complaint_id: uuid.UUID | None = None, reference: str | None = None,
                         trace: TraceDict, timestamp: datetime) -> None:
        self.reply_request = {"method": method, "content": content, "language": language,
                              "requested_at": timestamp}
        self.reply_undelivered = None
        self.state = State.REPLY_DUE

    def record_reply_sent(self, *, method: str, proof: str, sent_at: datetime,
                          summary: str = "", trace: TraceDict, now: datetime) -> None:
        """The answer reached the customer: reported by notify, or recorded by the staff
        member who phoned or met the customer (``proof``: Message-ID, letter number, call
        log id…)."""
        self._check(Action.RECORD_REPLY_SENT, now)
        _require_member(method, REPLY_METHODS, "method")
        _require_text(proof, "proof")
        _require_aware(sent_at, "sent_at")
        self._reply_sent(method=method, proof=proof, sent_at=sent_at, summary=summary,
                         **self._names(), trace=trace, timestamp=now)

    @event("ReplySent", topic="hotro.routing:Case.ReplySent")
    def _reply_sent(self, *, method: str, proof: str, sent_at: datetime, summary: str,
                    complaint_id: uuid.UUID | None = None, reference: str | None = None,
                    trace: TraceDict, timestamp: datetime) -> None:
        self.reply_sent = {"method": method, "proof": proof, "sent_at": sent_at,
                           "summary": summary, "recorded_by": trace.get("actor_id")}
        self.reply_undelivered = None
        self.state = State.REPLIED

    def record_reply_undelivered(self, *, method: str, reason: str,
                                 message_id: str | None = None, trace: TraceDict,
                                 now: datetime) -> bool:
        """The answer did not reach the customer, so step 3 is not done: the reply is due
        again and staff may send it by another method (``request_reply``) or record one
        given by phone or in person.

        Without ``message_id``: notify gave up on the requested reply (a permanent failure
        or too many transient ones); the case is still ``reply_due``. With it: our email
        came back (a bounce, matched to the reply's proof); the case, replied or closed on
        that reply, is reopened and goes back to ``reply_due`` (a supervisor's forced
        close stands). False, and nothing recorded, for anything else: a bounce of
        another message, a failure already recorded, an ended case."""
        _require_aware(now, "now")
        _require_text(reason, "reason")
        if message_id is None:
            if self.state is not State.REPLY_DUE or self.reply_undelivered is not None:
                return False
            proof = None
        else:
            proof = _same_message_id(message_id, self.reply_sent)
            if proof is None:
                return False
            forced = self.state is State.CLOSED and bool((self.outcome or {}).get("forced"))
            if self.state not in (State.REPLIED, State.CLOSED) or forced:
                return False
            # reopened, as far as sla (a reply clock again) and intake (the customer's
            # page) are concerned: the reply they took as given was not
            self._reopened(reason=f"the reply by {method} did not reach the customer",
                           **self._names(), trace=trace, timestamp=now)
        self._reply_undelivered(method=method, reason=reason[:500], proof=proof,
                                **self._names(), trace=trace, timestamp=now)
        return True

    def note_bounce(self, *, message_id: str, reason: str, trace: TraceDict,
                    now: datetime) -> None:
        """One of our emails bounced and is not the reply delivered (a note); kept, so
        that a reply whose delivery is reported only after its bounce (notify's report
        held up) is still found undelivered."""
        _require_aware(now, "now")
        _require_text(message_id, "message_id")
        self._bounce_noted(message_id=bare_message_id(message_id), reason=reason[:500],
                           trace=trace, timestamp=now)

    @event("BounceNoted", topic="hotro.routing:Case.BounceNoted")
    def _bounce_noted(self, *, message_id: str, reason: str, trace: TraceDict,
                      timestamp: datetime) -> None:
        self.bounced_ids = (*self.bounced_ids, message_id)
        self.notes.append({"at": timestamp, "author": trace.get("actor_id"),
                           "text": f"our email <{message_id}> bounced: {reason}"})

    def bounced_before(self, message_id: str) -> bool:
        """Whether the email ``message_id`` bounced before its delivery was reported."""
        return bare_message_id(message_id) in self.bounced_ids

    @event("ReplyUndelivered", topic="hotro.routing:Case.ReplyUndelivered")
    def _reply_undelivered(self, *, method: str, reason: str, proof: str | None,
                           complaint_id: uuid.UUID | None = None,
                           reference: str | None = None, trace: TraceDict,
                           timestamp: datetime) -> None:
        self.reply_undelivered = {"method": method, "reason": reason, "proof": proof,
                                  "at": timestamp}
        self.reply_sent = None
        self.state = State.REPLY_DUE

    # ---- ending and reopening ----------------------------------------------------------

    def close(self, *, reason: str, trace: TraceDict, now: datetime) -> None:
        """Step 4, after the reply was sent."""
        self._check(Action.CLOSE, now)
        _require_text(reason, "reason")
        self._closed(reason=reason, forced=False, **self._names(), trace=trace, timestamp=now)

    def force_close(self, *, reason: str, trace: TraceDict, now: datetime) -> None:
        """A supervisor's override: close an open case without a reply."""
        self._check(Action.FORCE_CLOSE, now)
        _require_text(reason, "reason")
        self._closed(reason=reason, forced=True, **self._names(), trace=trace, timestamp=now)

    @event("Closed", topic="hotro.routing:Case.Closed")
    def _closed(self, *, reason: str, forced: bool,
                complaint_id: uuid.UUID | None = None, reference: str | None = None,
                trace: TraceDict, timestamp: datetime) -> None:
        self._end(State.CLOSED, {"reason": reason, "forced": forced}, timestamp)

    def refuse(self, *, reason: str, explanation: str, trace: TraceDict,
               now: datetime) -> None:
        """Not handled: filed after the deadline, not eligible, or through the wrong channel."""
        self._check(Action.REFUSE, now)
        _require_member(reason, REFUSAL_REASONS, "reason")
        _require_text(explanation, "explanation")
        self._refused(reason=reason, explanation=explanation,
                      filing_deadline=self.filing_deadline, **self._names(), trace=trace,
                      timestamp=now)

    @event("Refused", topic="hotro.routing:Case.Refused")
    def _refused(self, *, reason: str, explanation: str, filing_deadline: str | None,
                 complaint_id: uuid.UUID | None = None, reference: str | None = None,
                 trace: TraceDict, timestamp: datetime) -> None:
        if self.state is State.AWAITING_FILING_REVIEW:
            self.filing_review = {"decision": "refused", "reason": explanation,
                                  "by": trace.get("actor_id"), "at": timestamp}
        self._end(State.REFUSED, {"reason": reason, "explanation": explanation,
                                  "filing_deadline": filing_deadline}, timestamp)

    def withdraw(self, *, reason: str = "", trace: TraceDict, now: datetime) -> None:
        """The customer no longer wants an answer."""
        self._check(Action.WITHDRAW, now)
        self._withdrawn(reason=reason, **self._names(), trace=trace, timestamp=now)

    @event("Withdrawn", topic="hotro.routing:Case.Withdrawn")
    def _withdrawn(self, *, reason: str,
                   complaint_id: uuid.UUID | None = None, reference: str | None = None,
                   trace: TraceDict, timestamp: datetime) -> None:
        self._end(State.WITHDRAWN, {"reason": reason}, timestamp)

    def reopen(self, *, reason: str, within_days: int, trace: TraceDict,
               now: datetime) -> None:
        """Back to analysis, if at most ``within_days`` calendar days have passed since the
        case was closed or refused (the period is policy, passed in by the caller)."""
        self._check(Action.REOPEN, now)
        _require_text(reason, "reason")
        if within_days < 0:
            raise InvalidCommand(f"within_days must not be negative, got {within_days}")
        assert self.ended_at is not None  # every ended state sets it
        if now > self.ended_at + timedelta(days=within_days):
            raise ReopenPeriodExpired(self.ended_at.isoformat(), within_days, now.isoformat())
        self._reopened(reason=reason, **self._names(), trace=trace, timestamp=now)

    @event("Reopened", topic="hotro.routing:Case.Reopened")
    def _reopened(self, *, reason: str,
                  complaint_id: uuid.UUID | None = None, reference: str | None = None,
                  trace: TraceDict, timestamp: datetime) -> None:
        self.reopen_count += 1
        self.follow_up_pending = False
        self.ended_at = None
        self.outcome = None
        self.state = State.ANALYSING

    def record_follow_up(self, *, channel: str, text: str, trace: TraceDict,
                         now: datetime) -> None:
        """The customer wrote again after the case ended: kept, and flagged for a
        supervisor, who may reopen the case (which clears the flag)."""
        _require_aware(now, "now")
        _require_member(channel, CHANNELS, "channel")
        if not self.is_ended:
            raise CaseError(f"case {self.reference} is {self.state.value}: not a follow-up")
        self._follow_up_received(channel=channel, excerpt=text.strip()[:500],
                                 case_state=self.state.value, **self._names(), trace=trace,
                                 timestamp=now)

    @event("FollowUpReceived", topic="hotro.routing:Case.FollowUpReceived")
    def _follow_up_received(self, *, channel: str, excerpt: str, case_state: str,
                            complaint_id: uuid.UUID | None = None,
                            reference: str | None = None, trace: TraceDict,
                            timestamp: datetime) -> None:
        self.follow_ups.append({"at": timestamp, "channel": channel, "excerpt": excerpt})
        self.follow_up_pending = True

    def dismiss_follow_up(self, *, reason: str, trace: TraceDict, now: datetime) -> None:
        """A supervisor read the follow-up and the case stays ended (the reason is kept);
        it leaves the dashboard's list."""
        self._check(Action.DISMISS_FOLLOW_UP, now)
        _require_text(reason, "reason")
        self._follow_up_dismissed(reason=reason, trace=trace, timestamp=now)

    @event("FollowUpDismissed", topic="hotro.routing:Case.FollowUpDismissed")
    def _follow_up_dismissed(self, *, reason: str, trace: TraceDict,
                             timestamp: datetime) -> None:
        self.follow_up_pending = False

    # ---- deadlines reported by sla ------------------------------------------------------

    def record_deadline(self, *, clock: str, status: str, last_day: date, due_at: datetime,
                        working_days_left: int | None = None, trace: TraceDict,
                        now: datetime) -> None:
        """sla reported a clock approaching or breached; kept until an event settles it."""
        _require_aware(now, "now")
        _require_aware(due_at, "due_at")
        _require_member(clock, CLOCKS, "clock")
        _require_member(status, DEADLINE_STATUSES, "deadline status")
        self._deadline_recorded(clock=clock, status=status, last_day=last_day.isoformat(),
                                due_at=due_at.isoformat(), working_days_left=working_days_left,
                                trace=trace, timestamp=now)

    @event("DeadlineRecorded", topic="hotro.routing:Case.DeadlineRecorded")
    def _deadline_recorded(self, *, clock: str, status: str, last_day: str, due_at: str,
                           working_days_left: int | None, trace: TraceDict,
                           timestamp: datetime) -> None:
        self.deadlines[clock] = {"status": status, "last_day": last_day, "due_at": due_at,
                                 "working_days_left": working_days_left,
                                 "reported_at": timestamp}

    # ---- internal notes ------------------------------------------------------------------

    def add_note(self, *, text: str, trace: TraceDict, now: datetime) -> None:
        """An internal note (never shown to the customer); allowed in any state."""
        self._check(Action.ADD_NOTE, now)
        _require_text(text, "text")
        self._note_added(text=text, trace=trace, timestamp=now)

    @event("NoteAdded", topic="hotro.routing:Case.NoteAdded")
    def _note_added(self, *, text: str, trace: TraceDict, timestamp: datetime) -> None:
        self.notes.append({"at": timestamp, "author": trace.get("actor_id"), "text": text})

    # ---- helpers ---------------------------------------------------------------------

    def _names(self) -> dict[str, Any]:
        """The case's names, carried by every event other services hear about."""
        return {"complaint_id": self.complaint_id, "reference": self.reference}

    def _check(self, action: Action, now: datetime) -> None:
        if not self.can(action):
            raise IllegalTransition(self.state, action)
        _require_aware(now, "now")

    def _end(self, state: State, outcome: dict[str, Any], timestamp: datetime) -> None:
        self.state = state
        self.ended_at = timestamp
        self.outcome = {"state": state.value, **outcome}


_NOUNS = {"vi": {"complaint": "khiếu nại", "advice": "yêu cầu tư vấn"},
          "en": {"complaint": "complaint", "advice": "advice request"}}


def late_filing_explanation(language: str, kind: str, window_days: int) -> str:
    """The rule a late filing breaks, as the customer reads it under the refusal (one
    language; the last day it allowed travels as the refusal's ``filing_deadline``)."""
    lang = "en" if language == "en" else "vi"
    noun = _NOUNS[lang].get(kind, _NOUNS[lang]["complaint"])
    if lang == "en":
        return (f"Under our customer-support rules a {noun} must be made within {window_days} "
                "working days of the day of the incident.")
    return (f"Theo quy trình hỗ trợ khách hàng, {noun} phải được gửi trong vòng {window_days} "
            "ngày làm việc kể từ ngày xảy ra sự việc.")


def _same_message_id(message_id: str, reply_sent: Mapping[str, Any] | None) -> str | None:
    """The reply's proof if ``message_id`` names the email it was (a Message-ID may come
    back folded, with spaces, or with its domain in capitals; ours are lower-case, and
    intake matches them without case too); None otherwise."""
    if reply_sent is None or reply_sent.get("method") != "email":
        return None
    proof = str(reply_sent.get("proof") or "")
    wanted = bare_message_id(message_id)
    return proof if wanted and bare_message_id(proof) == wanted else None



def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidCommand(f"{name} must be timezone-aware, got {value.isoformat()}")


def _require_text(value: str, name: str) -> None:
    if not value.strip():
        raise InvalidCommand(f"{name} must not be blank", "blank", field=name)


def _require_member(value: str, allowed: frozenset[str], name: str) -> None:
    if value not in allowed:
        raise InvalidCommand(f"unknown {name} {value!r} (expected one of {sorted(allowed)})",
                             "one_of", field=name, expected=", ".join(sorted(allowed)))


def _require_not_past(value: date, now: datetime, name: str) -> None:
    today = now.astimezone(VIETNAM_TZ).date()
    if value < today:
        raise InvalidCommand(f"{name} {value.isoformat()} is before today ({today.isoformat()})",
                             "before_today", field=name, value=value.isoformat(),
                             today=today.isoformat())


register_topics(Case)
