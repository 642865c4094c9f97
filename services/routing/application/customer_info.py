"""Information from the customer: what intake received, and what happens when nothing
arrives by the due date."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from hotro.services.routing.application.refusals import apply_or_note
from hotro.services.routing.domain.case import Case, TraceDict
from hotro.services.routing.domain.workflow import State
from hotro.shared.contracts import events as wire
from hotro.shared.contracts.envelope import Envelope

#: What happens when the customer never answers an information request (sla reports the
#: "customer_info" clock breached): back to analysis with what support has, or withdrawn.
InfoTimeoutOutcome = Literal["resume_analysis", "withdraw"]


def record_information(case: Case, envelope: Envelope, provided: wire.InfoProvided, *,
                       trace: TraceDict, now: datetime) -> None:
    # Only items the customer (or the staff member taking it) named are ticked: a free
    # text answer ticks nothing, support ticks what it finds (record_info_provided).
    if case.is_ended:
        # The customer wrote again about an ended case: a follow-up its owner is alerted
        # to and a supervisor may reopen for — never just a note nobody reads.
        case.record_follow_up(channel=provided.channel, text=provided.content or
                              f"({len(provided.attachments)} attachment(s))",
                              trace=trace, now=now)
        return
    if case.state is State.AWAITING_FILING_REVIEW:
        # Often the reason to waive the deadline (a hospital stay, a trip): kept where the
        # supervisor deciding reads it; the case stays under review.
        case.add_note(text=f"customer information during the filing review "
                           f"({provided.channel}, {len(provided.attachments)} attachment(s)):"
                           f" {provided.content[:2000]}", trace=trace, now=now)
        return
    items = [i for i in provided.items if i in case.checklist]
    note = provided.content[:2000]
    stray = [i for i in provided.items if i not in case.checklist]
    if stray:
        note += f"\n[also named, not on the checklist: {', '.join(stray)}]"
    apply_or_note(case, envelope, lambda: case.record_info_provided(
        items=items, channel=provided.channel, note=note,
        attachments=[a.model_dump() for a in provided.attachments], trace=trace, now=now),
        trace=trace, now=now)


def customer_never_answered(case: Case, outcome: InfoTimeoutOutcome, *, trace: TraceDict,
                            now: datetime) -> None:
    due = case.info_due_date
    missing = ", ".join(case.open_checklist_items) or "none"
    if outcome == "withdraw":
        case.withdraw(reason=f"the customer did not provide the requested information "
                             f"by {due} (missing: {missing})", trace=trace, now=now)
        return
    case.lapse_info_request(trace=trace, now=now)
    case.add_note(text=f"no answer from the customer by {due} (missing: {missing}); "
                       "back to analysis with the information at hand",
                  trace=trace, now=now)
