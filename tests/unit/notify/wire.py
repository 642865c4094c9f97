"""Build upstream envelopes for notify's unit tests."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime
from typing import Any

from hotro.services.notify.application import NotifyApplication
from hotro.shared.contracts import events
from hotro.shared.contracts.envelope import Actor, Envelope
from hotro.shared.eventstore.persistence import persistence_env

REFERENCE = "KN-2026-000123"
CUSTOMER = {"name": "Nguyễn Thị Ánh", "phone": "+84912345678",
            "email": "anh.nguyen@example.vn",
            "address": "Số 5 phố Huế, Hai Bà Trưng, Hà Nội"}
RECEIVED_AT = datetime(2026, 3, 5, 2, 30, tzinfo=UTC)
_positions = itertools.count(1)


#: the reply clock's last day in ``reply_deadline_set`` (sla's, as the acknowledgement says)
REPLY_LAST_DAY = date(2026, 3, 19)


def memory_app(**kwargs: Any) -> NotifyApplication:
    kwargs.setdefault("clock", lambda: datetime(2026, 3, 6, 3, 0, tzinfo=UTC))
    return NotifyApplication(env=persistence_env("memory:", allow_memory=True), **kwargs)


def envelope(producer: str, payload: events.Payload, complaint_id: uuid.UUID, *,
             actor: str = "system") -> Envelope:
    return Envelope(event_id=uuid.uuid4(), event_type=payload.EVENT_TYPE,
                    schema_version=payload.SCHEMA_VERSION, complaint_id=complaint_id,
                    producer=producer,
                    notification_id=next(_positions), occurred_at=RECEIVED_AT,
                    actor=Actor(kind="staff", id=actor), correlation_id=uuid.uuid4(),
                    payload=payload.model_dump(mode="json"))


def received(complaint_id: uuid.UUID, *, channel: str = "email",
             received_at: datetime = RECEIVED_AT,
             inbound_message_id: str = "<CAF0-khieu-nai@mail.example.vn>",
             **customer: Any) -> Envelope:
    person = {**CUSTOMER, **customer}
    return envelope("intake", events.ComplaintReceived(
        reference=REFERENCE, kind="complaint", channel=channel,
        customer=events.CustomerContact(**person), product="dien-tu",
        received_at=received_at, description="Tủ lạnh không lạnh",
        inbound_message_id=inbound_message_id if channel == "email" else None,
    ), complaint_id)


def reply_deadline_set(complaint_id: uuid.UUID, last_day: date = REPLY_LAST_DAY,
                       clock: str = "reply") -> Envelope:
    """sla's DeadlineSet (of the reply clock unless told): the acknowledgement waits for it."""
    return envelope("sla", events.DeadlineSet(
        reference=REFERENCE, clock=clock, last_day=last_day,
        due_at=datetime.combine(last_day, datetime.min.time(), UTC),
        calendar_version="vn-2026.2", working_days=10, start=RECEIVED_AT.date(),
        rule="reply: 10 working days", explanation="test"), complaint_id)


def acknowledged(app: NotifyApplication, complaint_id: uuid.UUID, **received_kw: Any) -> None:
    """The complaint received and its reply deadline set: its acknowledgement is due."""
    app.handle(received(complaint_id, **received_kw))
    app.handle(reply_deadline_set(complaint_id))


def reply_requested(complaint_id: uuid.UUID, method: str, *,
                    content: str = "Chúng tôi sẽ đổi sản phẩm mới cho Quý khách.",
                    purpose: str = "reply") -> Envelope:
    return envelope("routing", events.ReplyRequested(
        reference=REFERENCE, purpose=purpose, method=method,
        content=content), complaint_id, actor="staff-1")


def info_requested(complaint_id: uuid.UUID, due: date = date(2026, 3, 12)) -> Envelope:
    return envelope("routing", events.InfoRequested(
        reference=REFERENCE, items=("Ảnh chụp hóa đơn mua hàng", "Số sê-ri của sản phẩm"),
        due_date=due, round=1), complaint_id, actor="staff-1")


def deadline_approaching(complaint_id: uuid.UUID, clock: str,
                         last_day: date = date(2026, 3, 12)) -> Envelope:
    return envelope("sla", events.DeadlineApproaching(
        reference=REFERENCE, clock=clock, last_day=last_day,
        due_at=datetime(2026, 3, 12, 10, 0, tzinfo=UTC), calendar_version="2026",
        working_days_left=1), complaint_id)


def deadline_breached(complaint_id: uuid.UUID, clock: str,
                      last_day: date = date(2026, 3, 12)) -> Envelope:
    return envelope("sla", events.DeadlineBreached(
        reference=REFERENCE, clock=clock, last_day=last_day,
        due_at=datetime(2026, 3, 12, 17, 0, tzinfo=UTC), calendar_version="2026"),
        complaint_id)


def bounced(complaint_id: uuid.UUID, message_id: str,
            reason: str = "550 5.1.1 user unknown") -> Envelope:
    return envelope("intake", events.DeliveryBounced(
        reference=REFERENCE, message_id=message_id, reason=reason), complaint_id)


def dispatches(app: NotifyApplication) -> list[Any]:
    """Every Dispatch, current state, in the order their intent was recorded."""
    from hotro.services.notify.domain import Dispatch

    out = []
    for n in app.recorder.select_notifications(start=0, limit=10_000, inclusive_of_start=False):
        event = app.mapper.to_domain_event(n)
        if isinstance(event, Dispatch.Requested):
            out.append(app.get_dispatch(event.originator_id))
    return out


def wire_events(app: NotifyApplication) -> list[Envelope]:
    return list(app.envelopes())
