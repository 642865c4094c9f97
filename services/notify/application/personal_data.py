"""Personal data in notify (crypto-shredding, see ``shared/privacy``): the contact,
recipients and names are stored sealed with the complaint's data key and opened in memory
only, to send or to show staff. Notify never creates a key, except for v1 events."""

from __future__ import annotations

import uuid
from typing import Any

from hotro.services.notify.application.channel import PermanentFailure
from hotro.services.notify.domain import Contact, Dispatch
from hotro.shared.eventstore.application import ServiceApplication
from hotro.shared.privacy.sealing import ERASED, KeyRing, is_sealed, reveal, seal_existing

#: context entries that are personal data: stored sealed under ``PERSONAL``
PERSONAL_CONTEXT = ("customer_name", "address")
PERSONAL = "personal"
#: the reason a dispatch fails with when the customer's data was erased
ERASED_REASON = "erased"


class PersonalData(ServiceApplication):
    keyring: KeyRing

    def open_customer(self, contact: Contact) -> dict[str, Any] | None:
        """The contact opened with the complaint's key; None once erased."""
        if not contact.customer:
            return None
        return reveal(contact.customer, self.keyring)

    def open_recipient(self, dispatch: Any) -> str:
        """Who the dispatch goes to, for staff and exports (``ERASED`` once erased)."""
        return self._open_to(dispatch.recipient, dispatch.internal)

    def open_row(self, row: dict[str, Any]) -> dict[str, Any]:
        """A dispatch-log row for staff: the recipient opened (or ``ERASED``)."""
        return {**row, "to": self._open_to(row.get("to"), bool(row.get("internal")))}

    def opened(self, dispatch: Dispatch, contact: Contact | None) -> tuple[Any, Any]:
        """The dispatch and contact as a channel needs them, personal data opened in
        memory only. Erased (key destroyed): ``PermanentFailure("erased")``."""
        if dispatch.internal:
            return dispatch, contact
        recipient = self.open_recipient(dispatch)
        if recipient in (ERASED, ""):
            raise PermanentFailure(ERASED_REASON)
        context = {k: v for k, v in dispatch.context.items() if k != PERSONAL}
        if PERSONAL in dispatch.context:
            personal = reveal(dispatch.context[PERSONAL], self.keyring)
            if personal is None:
                raise PermanentFailure(ERASED_REASON)
            context.update(personal)
        view_contact: Any = contact
        if contact is not None:
            person = self.open_customer(contact)
            if person is None:
                raise PermanentFailure(ERASED_REASON)
            view_contact = _Opened(contact, customer=person)
        context.update(self.link_context(dispatch, contact))
        return _Opened(dispatch, recipient=recipient, context=context), view_contact

    def link_context(self, dispatch: Dispatch, contact: Contact | None) -> dict[str, Any]:
        """What a customer message adds to its context at send time, in memory only (the
        case's link: ``application.links``)."""
        return {}

    def _open_to(self, value: Any, internal: bool) -> str:
        if not is_sealed(value):
            return str(value) if value else ("" if internal else ERASED)
        opened = reveal(value, self.keyring)
        return str(opened.get("to")) if opened else ERASED

    def _seal(self, complaint_id: uuid.UUID, data: dict[str, Any]) -> dict[str, str] | None:
        return seal_existing(self.keyring, str(complaint_id), data)

    def _seal_personal(self, complaint_id: uuid.UUID,
                       context: dict[str, Any]) -> dict[str, Any]:
        personal = {k: context[k] for k in PERSONAL_CONTEXT if context.get(k) is not None}
        rest = {k: v for k, v in context.items() if k not in PERSONAL_CONTEXT}
        if personal:
            sealed = self._seal(complaint_id, personal)
            if sealed is not None:
                rest[PERSONAL] = sealed
        return rest


class _Opened:
    """An aggregate seen with some attributes replaced (opened personal data), in memory
    only: nothing here is ever stored."""

    def __init__(self, inner: Any, **overrides: Any) -> None:
        self._inner = inner
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        overrides = self.__dict__["_overrides"]
        if name in overrides:
            return overrides[name]
        return getattr(self.__dict__["_inner"], name)
