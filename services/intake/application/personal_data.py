"""Personal data in intake's store: sealed with data keys, found again by keyed hashes
(crypto-shredding, see shared/privacy)."""

from __future__ import annotations

import hmac
from typing import Any

from hotro.services.intake.application.base import IntakeBase
from hotro.services.intake.domain import HotlineCall, Request
from hotro.services.intake.domain.names import name_tokens
from hotro.shared.privacy.sealing import ERASED, is_sealed, keyed_hash, reveal, seal_with


class PersonalData(IntakeBase):
    def phone_key(self, e164: str) -> str:
        """The index key of a phone number: its keyed hash, not the number."""
        return keyed_hash(self.hash_secret, f"phone:{e164}")

    def email_key(self, address: str) -> str:
        return keyed_hash(self.hash_secret, f"email:{address}")

    def name_keys(self, name: str) -> list[str]:
        """The keyed hashes of a name's search tokens (``domain.names``): staff find a
        case by name without the name being stored in clear."""
        return [keyed_hash(self.hash_secret, f"name:{t}") for t in name_tokens(name)]

    def contact_hashes(self, customer: dict[str, Any]) -> dict[str, str]:
        out: dict[str, str] = {}
        if customer.get("email"):
            out["email"] = self.email_key(str(customer["email"]))
        if customer.get("phone"):
            out["phone"] = self.phone_key(str(customer["phone"]))
        if customer.get("name"):  # space-separated: the field holds strings
            out["name"] = " ".join(self.name_keys(str(customer["name"])))
        return out

    def drop_pending_keys(self, key_ids: list[str]) -> None:
        """Erasure: forget keys still waiting for the shared key store."""
        self.pending_keys.delete(key_ids)

    def customer_of(self, request: Request) -> dict[str, Any] | None:
        """The customer's contact, opened with the request's data key; None once erased."""
        return reveal(request.customer, self.keyring)

    def same_sender(self, request: Request, address: str) -> bool:
        """Is ``address`` the request's customer email? By keyed hash (case-insensitive,
        otherwise exactly as received: no IDN decoding), or, for requests stored before
        sealing, the clear address."""
        if not address.strip():
            return False
        stored = request.contact_hashes.get("email")
        if stored is not None:
            return hmac.compare_digest(stored.encode(), self.email_key(address).encode())
        if is_sealed(request.customer):
            return False
        email = str((request.customer or {}).get("email") or "").strip().lower()
        return bool(email) and email == address.strip().lower()

    def _seal_value(self, key_id: str, value: str | None) -> dict[str, str] | None:
        if value is None:
            return None
        return seal_with(self.keyring, key_id, {"value": value})

    def open_value(self, value: Any) -> str | None:
        """A value sealed by ``_seal_value`` (a plain string from before sealing passes)."""
        if value is None or isinstance(value, str):
            return value
        opened = reveal(value, self.keyring)
        return str(opened.get("value")) if opened else ERASED

    def call_keys(self, request: Request) -> list[str]:
        """The data keys of the hotline calls that belong to the request."""
        ids = {c["call_id"] for c in request.calls}
        if request.details.get("hotline_call_id"):
            ids.add(str(request.details["hotline_call_id"]))
        return sorted(HotlineCall.key_id(i) for i in ids)
