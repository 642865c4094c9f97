"""A DKIM signing key for tests and the DNS look-up that publishes it (dkimpy signs; intake
verifies through its injectable look-up, so no real DNS is asked)."""

from __future__ import annotations

import base64

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


class Keys:
    """A DKIM key of ours for example.vn, and the DNS that publishes it (tests only)."""

    def __init__(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        self.private = key.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.TraditionalOpenSSL,
                                         serialization.NoEncryption())
        public = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        self.records = {b"sel._domainkey.example.vn.":
                        b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)}
        self.looked_up: list[bytes] = []

    def dns(self, name: bytes, timeout: float = 5) -> bytes | None:
        self.looked_up.append(name)
        return self.records.get(name)

    def sign(self, raw: bytes, domain: bytes = b"example.vn") -> bytes:
        header: bytes = dkim.sign(raw, b"sel", domain, self.private,
                                  include_headers=[b"from", b"to", b"subject", b"message-id"])
        return header + raw
