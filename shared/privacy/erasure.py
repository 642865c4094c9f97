"""``hotro erase``: destroy a complaint's data key and record who erased it, and why."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from shared.eventstore.trace import Trace
from shared.privacy.kv import bucket, destroy_key

ERASED_FIELDS = ["name", "phone", "email", "address"]


async def erase(js: Any, intake: Any, complaint_id: uuid.UUID, *, reason: str,
                by: str) -> str:
    if not reason.strip():
        raise ValueError("an erasure needs a reason")
    kv = await bucket(js)
    existed = await destroy_key(kv, str(complaint_id))
    trace = Trace(actor_kind="staff", actor_id=by, actor_role="data-protection",
                  correlation_id=str(uuid.uuid4())).as_dict()
    request = await asyncio.to_thread(
        intake.record_erasure, complaint_id, reason=reason.strip(), requested_by=by,
        fields=ERASED_FIELDS, trace=trace)
    key_state = "data key destroyed" if existed else "no data key existed (already erased " \
                                                     "or stored before sealing)"
    return f"{request.reference}: {key_state}; erasure recorded by {by}"
