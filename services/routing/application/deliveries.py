"""What became of the messages sent to the customer: notify's delivery reports and the
bounces intake receives. The reply delivered ends step 3; the reply undelivered (notify
gave up, or it bounced) makes it due again; everything else is a note."""

from __future__ import annotations

from datetime import datetime

from hotro.services.routing.application.refusals import apply_or_note
from hotro.services.routing.domain.case import Case, TraceDict
from hotro.services.routing.domain.workflow import Action
from hotro.shared.contracts import events as wire
from hotro.shared.contracts.envelope import Envelope


def record_delivery(case: Case, envelope: Envelope, sent: wire.ReplySent, *,
                    close_after_reply: bool, trace: TraceDict, now: datetime) -> None:
    if sent.purpose != "reply":
        # Refusals, information requests and reminders: shown on the case's timeline.
        case.add_note(text=f"{sent.purpose} delivered by {sent.method} (proof {sent.proof})"
                           + (f", recorded by {sent.recorded_by}" if sent.recorded_by else ""),
                      trace=trace, now=now)
        return
    summary = f"recorded by {sent.recorded_by} in notify" if sent.recorded_by else ""
    apply_or_note(case, envelope, lambda: case.record_reply_sent(
        method=sent.method, proof=sent.proof, sent_at=sent.sent_at, summary=summary,
        trace=trace, now=now), trace=trace, now=now)
    if sent.method == "email" and case.bounced_before(sent.proof) and \
            case.record_reply_undelivered(
                method=sent.method, message_id=sent.proof, trace=trace, now=now,
                reason=f"our email {sent.proof} bounced before its delivery was reported"):
        return
    if close_after_reply and case.can(Action.CLOSE):
        case.close(reason=f"replied to the customer by {sent.method}", trace=trace, now=now)


def note_failed_delivery(case: Case, failed: wire.NotificationFailed, *, trace: TraceDict,
                         now: datetime) -> None:
    """notify gave up on a message. The requested reply: due again (``ReplyUndelivered``),
    staff choose how to send it; anything else is a note on the timeline."""
    reason = (f"delivery of {failed.purpose} by {failed.method} failed after "
              f"{failed.attempts} attempt(s): {failed.reason}")
    if failed.purpose == "reply" and case.record_reply_undelivered(
            method=failed.method, reason=reason, trace=trace, now=now):
        return
    case.add_note(text=reason, trace=trace, now=now)


def note_bounce(case: Case, bounced: wire.DeliveryBounced, *, trace: TraceDict,
                now: datetime) -> None:
    """Our email came back. The reply's own: the case reopened and the reply due again
    (unless a supervisor forced it closed); any other message's: a note."""
    reason = f"our email {bounced.message_id} bounced: {bounced.reason}"
    if case.record_reply_undelivered(method="email", reason=reason,
                                     message_id=bounced.message_id, trace=trace, now=now):
        return
    case.note_bounce(message_id=bounced.message_id, reason=bounced.reason, trace=trace,
                     now=now)
