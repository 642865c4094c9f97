"""The customer's link to their case in what notify sends them.

The acknowledgement, every information request and reminder — and the message sent when
intake reissues the link — carry ``<public base URL>/c/<capability>``
(shared/staff/capabilities.py): the only way the customer reads their case's status or
adds information over HTTP. The capability names the case (id and reference) and the
case's current link generation (0 until intake reissues: ``CustomerLinkReissued``, noted
on the Contact).

The link is made when the message is sent, in memory only: a capability is a bearer
secret, so it is never stored in notify's log (the message itself — the Maildir, a
letter's PDF — holds it, as it must). A message sent again after a reissue carries a link
of the new generation. Without capability keys (``HOTRO_CAPABILITY_KEYS_FILE`` unset) the
messages go out without a link, and the process says so once at start.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.application import ProcessingEvent

from hotro.services.notify.application.intents import Intents
from hotro.services.notify.domain import Contact, Dispatch, acknowledgement_route
from hotro.shared.contracts.envelope import Envelope
from hotro.shared.staff import capabilities
from hotro.shared.staff.signing import KeyRing

log = logging.getLogger(__name__)

#: the customer messages that carry the case's link
LINKED_PURPOSES = frozenset({"acknowledgement", "info_request", "reminder", "customer_link",
                             "reopened", "reply_date_moved"})
#: the context entry the templates read (present only in memory, at send time)
LINK = "customer_link"


@dataclass(frozen=True)
class CustomerLinks:
    """Makes the links: the capability keys, where customers reach the system, and how
    long a link lives."""

    keys: KeyRing
    public_base_url: str
    ttl: timedelta = capabilities.DEFAULT_TTL
    #: an http base URL that is not loopback (a local run on another host name)
    allow_http: bool = False

    def __post_init__(self) -> None:
        if self.keys.purpose != capabilities.PURPOSE:
            raise ValueError(f"customer links need {capabilities.PURPOSE} keys, "
                             f"not {self.keys.purpose}")
        # A base URL customer_url refuses (http on a public host…) fails at start.
        capabilities.customer_url(self.public_base_url, f"{capabilities.PREFIX}.x.y",
                                  allow_http=self.allow_http)

    def url(self, *, complaint_id: uuid.UUID, reference: str, generation: int,
            now: datetime) -> str:
        token = capabilities.issue(complaint_id=str(complaint_id), reference=reference,
                                   generation=generation, keys=self.keys, now=now,
                                   ttl=self.ttl)
        return capabilities.customer_url(self.public_base_url, token,
                                         allow_http=self.allow_http)


class CustomerLinkMessages(Intents):
    #: None: no capability keys, messages go without a link
    customer_links: CustomerLinks | None

    def link_context(self, dispatch: Dispatch, contact: Contact | None) -> dict[str, Any]:
        """``{"customer_link": url}`` for a customer message that carries the link (made
        now, of the case's current generation); {} otherwise or without keys."""
        if dispatch.internal or dispatch.purpose not in LINKED_PURPOSES or contact is None:
            return {}
        if self.customer_links is None:
            log.debug("dispatch %s goes without the customer's link (no capability keys)",
                      dispatch.id)
            return {}
        return {LINK: self.customer_links.url(
            complaint_id=dispatch.complaint_id, reference=dispatch.reference,
            generation=contact.link_generation, now=self.clock())}

    def send_fresh_link(self, env: Envelope, p: Any, pe: ProcessingEvent[uuid.UUID]) -> None:
        """CustomerLinkReissued: note the case's new generation and send the customer a
        link of it, the way the case reached them (a counter case: by email, SMS or
        letter — the receipt slip was handed over once). Once per generation."""
        contact = self._require_contact(env)
        trace = self.reaction_trace(env, "notify")
        if not contact.note_link_generation(generation=p.generation, trace=trace):
            return  # that generation (or a newer one) is already known
        person = self.open_customer(contact)
        method, recipient = acknowledgement_route(contact.channel, person)
        if method == "receipt_slip":
            method, recipient = contact.route(person)
        context = {"reference": p.reference, "customer_name": (person or {}).get("name"),
                   "address": (person or {}).get("address"), "generation": p.generation}
        pe.collect_events(contact, self._dispatch(
            env, "customer_link", method, recipient, contact.language, context, contact,
            trace, cause=f"link/{p.generation}"))
