"""Recording the intent to send: at most one Dispatch per (complaint, purpose, cause), its
id — and, for email, its Message-ID ``<dispatch-id@mail-domain>`` — derived from that key,
so a replayed or redelivered event can never produce a second intent. And the look-ups
every use case needs: dispatches, contacts, the case's owner."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from hotro.services.notify.application.personal_data import PersonalData
from hotro.services.notify.domain import Contact, Dispatch
from hotro.shared.contracts.envelope import Envelope
from hotro.shared.message_id import bare_message_id


class DispatchNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Recipients:
    """Internal addresses (alerts). Departments by code."""

    supervisor: str = "supervisor@vhv.vn"
    support: str = "support@vhv.vn"
    departments: tuple[tuple[str, str], ...] = ()
    mail_domain: str = "vhv.vn"
    #: a staff member's address from their id (the ids of routing's users file)
    staff_email_template: str = "{staff_id}@vhv.vn"

    def department(self, code: str) -> str:
        return dict(self.departments).get(code, f"{code}@{self.mail_domain}")

    def staff(self, staff_id: str) -> str:
        return self.staff_email_template.format(staff_id=staff_id)


class Intents(PersonalData):
    recipients: Recipients
    max_attempts: int

    def _dispatch(self, env: Envelope, purpose: str, method: str, recipient: str,
                  language: str, context: dict[str, Any], contact: Contact | None,
                  trace: dict[str, str | None], *, internal: bool = False,
                  audience: str = "customer", cause: str | None = None,
                  wire_purpose: str | None = None) -> Dispatch:
        """The intent caused by ``env`` (its event id is the cause unless one is given)."""
        return self._new_dispatch(env.complaint_id, purpose, method, recipient, language,
                                  context, contact, trace, internal=internal,
                                  cause=f"{cause or env.event_id}/{audience}",
                                  wire_purpose=wire_purpose)

    def _new_dispatch(self, complaint_id: uuid.UUID, purpose: str, method: str,
                      recipient: str, language: str, context: dict[str, Any],
                      contact: Contact | None, trace: dict[str, str | None], *,
                      internal: bool, cause: str, wire_purpose: str | None = None) -> Dispatch:
        dispatch_id = Dispatch.create_id(complaint_id, purpose, cause)
        message_id = (f"<{dispatch_id}@{self.recipients.mail_domain}>"
                      if method == "email" else None)
        in_reply_to = contact.last_message_id if contact is not None else None
        if wire_purpose and wire_purpose != purpose:
            context = {**context, "wire_purpose": wire_purpose}
        stored_recipient: Any = recipient
        if not internal:  # a customer's address, number or name: sealed, or nothing
            stored_recipient = (self._seal(complaint_id, {"to": recipient})
                                if recipient else None) or ""
            context = self._seal_personal(complaint_id, context)
        return Dispatch(id=dispatch_id, complaint_id=complaint_id,
                        reference=context["reference"], purpose=purpose, method=method,
                        recipient=stored_recipient, language=language, context=context,
                        message_id=message_id, in_reply_to=in_reply_to, internal=internal,
                        trace=trace)

    def get_dispatch(self, dispatch_id: uuid.UUID) -> Dispatch:
        try:
            dispatch: Dispatch = self.repository.get(dispatch_id)
        except AggregateNotFoundError:
            raise DispatchNotFound(str(dispatch_id)) from None
        return dispatch

    def _exists(self, aggregate_id: uuid.UUID) -> bool:
        try:
            self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return False
        return True

    def _by_message_id(self, message_id: str) -> Dispatch | None:
        """Our Message-IDs are ``<dispatch-id@domain>``: no index needed to find one. One
        that comes back with its domain in capitals is still ours (as intake finds it)."""
        wanted = bare_message_id(message_id)
        try:
            dispatch = self.get_dispatch(uuid.UUID(wanted.split("@", 1)[0]))
        except (ValueError, DispatchNotFound):
            return None
        ours = bare_message_id(dispatch.message_id or "")
        return dispatch if ours and ours == wanted else None

    def _contact(self, complaint_id: uuid.UUID) -> Contact | None:
        try:
            contact: Contact = self.repository.get(Contact.create_id(complaint_id))
        except AggregateNotFoundError:
            return None
        return contact

    def _require_contact(self, env: Envelope) -> Contact:
        contact = self._contact(env.complaint_id)
        if contact is None:  # ComplaintReceived is in the same partition, earlier: retried
            raise LookupError(f"no contact for {env.complaint_id} yet")
        return contact

    @staticmethod
    def _note_owner(contact: Contact, env: Envelope, trace: dict[str, str | None]) -> None:
        if env.actor.kind == "staff" and env.actor.id and env.actor.id != contact.owner:
            contact.note_owner(staff_id=env.actor.id, trace=trace)
