"""What vouches for an inbound message's sender: the receiving MTA's verdicts
(``Authentication-Results``, RFC 8601) when our own receiving host added them, else our own
DKIM check (dkimpy).

Trust: only the topmost ``Authentication-Results`` header is considered, and only when its
authserv-id is the one configured for our receiving host (``HOTRO_EMAIL_AUTHSERV_ID``).
Anyone can write such a header into a message; the receiving MTA adds its own on top (and
should remove forged ones with its id, RFC 8601 section 5). Without the setting, or without
such a header on top, no header is trusted and the DKIM signatures are verified here.

The DNS look-up of DKIM keys is injectable (``DnsLookup``: name → TXT record bytes, or
None), so tests provide their keys; production uses dkimpy's (dnspython).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

import dkim

from .sanitize import clean_line

log = logging.getLogger(__name__)

#: name (bytes, e.g. b"sel._domainkey.example.vn.") -> the TXT record (bytes) or None
DnsLookup = Callable[..., bytes | None]

_METHODS = ("spf", "dkim", "dmarc", "arc")
_MAX_HEADERS = 50
_MAX_SIGNATURES = 3


@dataclass(frozen=True)
class MailAuthentication:
    """``source``: "authentication-results" (our receiving host's header),
    "dkim-check" (verified here) or "none"; ``results``: method -> result (pass, fail,
    none, neutral, softfail, temperror, permerror…); ``domains``: method -> the domain it
    vouched for (DKIM's d=, SPF's mailfrom domain, DMARC's header.from)."""

    source: str
    results: dict[str, str] = field(default_factory=dict)
    domains: dict[str, str] = field(default_factory=dict)
    authserv_id: str | None = None

    @property
    def dmarc_failed(self) -> bool:
        return self.source == "authentication-results" and self.results.get("dmarc") == "fail"

    def as_record(self, from_domain: str) -> dict[str, Any]:
        """What is stored: the verdicts, and per method whether the domain it vouched for
        is aligned with the header From's (the same, or one a subdomain of the other) —
        never the domain itself, which can be personal data (a family's own domain)
        stored in clear."""
        out: dict[str, Any] = {"source": self.source, "results": dict(self.results)}
        if self.domains:
            out["aligned"] = {method: aligned(domain, from_domain)
                              for method, domain in self.domains.items()}
        if self.authserv_id:
            out["authserv_id"] = self.authserv_id
        return out


def aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment, approximated without the public-suffix list: equal, or one is a
    subdomain of the other."""
    a, b = domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    return bool(a and b) and (a == b or a.endswith("." + b) or b.endswith("." + a))


def authenticate(raw: bytes, *, authserv_id: str | None, dns: DnsLookup | None = None,
                 timeout_s: float = 5.0) -> MailAuthentication:
    """The trusted Authentication-Results if there is one, else our own DKIM verdict."""
    if authserv_id:
        trusted = trusted_results(raw, authserv_id)
        if trusted is not None:
            return trusted
    return verify_dkim(raw, dns=dns, timeout_s=timeout_s)


def trusted_results(raw: bytes, authserv_id: str) -> MailAuthentication | None:
    """The topmost Authentication-Results header, if our receiving host wrote it."""
    try:
        head = BytesHeaderParser(policy=compat32).parsebytes(raw, headersonly=True)
        values = [str(v) for k, v in head.items()[:_MAX_HEADERS * 4]
                  if k.lower() == "authentication-results"]
    except Exception:  # incl. RecursionError: an unreadable header trusts nothing
        return None
    if not values:
        return None
    parsed = parse_authentication_results(values[0])
    if parsed is None or parsed.authserv_id != authserv_id.lower():
        return None
    return parsed


def parse_authentication_results(value: str) -> MailAuthentication | None:
    """RFC 8601: ``authserv-id [version]; method=result prop=value …; …`` (comments
    dropped). The first result of each method (for DKIM: a pass if any signature passed).
    None if the header does not parse."""
    text = _drop_comments(re.sub(r"\r?\n[ \t]*", " ", value))
    parts = [p.strip() for p in _split_semicolons(text)]
    if not parts or not parts[0]:
        return None
    authserv_id = parts[0].split()[0].lower()
    results: dict[str, str] = {}
    domains: dict[str, str] = {}
    for part in parts[1:]:
        tokens = part.split()
        if not tokens or "=" not in tokens[0]:
            continue
        method, _, result = tokens[0].partition("=")
        method = method.split("/")[0].lower()
        result = result.strip('"').lower()
        if method not in _METHODS or not result:
            continue
        props = dict(t.split("=", 1) for t in tokens[1:] if "=" in t)
        domain = (props.get("header.d") or props.get("header.from")
                  or props.get("smtp.mailfrom", "").rpartition("@")[2] or None)
        if method not in results or (method == "dkim" and result == "pass"
                                     and results[method] != "pass"):
            results[method] = clean_line(result, max_chars=20)
            if domain:
                domains[method] = clean_line(domain.strip('"').lower(), max_chars=253)
    return MailAuthentication("authentication-results", results, domains,
                              clean_line(authserv_id, max_chars=253))


def verify_dkim(raw: bytes, *, dns: DnsLookup | None = None,
                timeout_s: float = 5.0) -> MailAuthentication:
    """Our own DKIM verdict: "pass" if a signature verifies (its d= recorded), "fail" if
    signatures are there and none verifies, "temperror" when a key could not be looked
    up, "permerror" when every signature is malformed or has no key, "none" without a
    signature (RFC 8601 section 2.7.1)."""
    lookup_failed = False

    def lookup(name: bytes, timeout: float = timeout_s) -> bytes | None:
        nonlocal lookup_failed
        try:
            found = dns(name, timeout=timeout) if dns is not None \
                else dkim.dnsplug.get_txt(name, timeout=timeout)
        except Exception as exc:  # a resolver's error: temporary by nature
            log.info("DKIM key look-up of %r failed: %s", name, exc)
            lookup_failed = True
            return None
        return found

    try:
        signer = dkim.DKIM(raw, timeout=timeout_s)
        count = sum(1 for name, _ in signer.headers if name.lower() == b"dkim-signature")
    except Exception:  # dkimpy's own errors, or a message it cannot split
        return MailAuthentication("dkim-check", {"dkim": "permerror"})
    if count == 0:
        return MailAuthentication("dkim-check", {"dkim": "none"})
    outcomes: list[str] = []
    first_domain: str | None = None
    for idx in range(min(count, _MAX_SIGNATURES)):
        signer.pk = None  # set by dkimpy once a key was found for this signature
        before = lookup_failed
        lookup_failed = False
        try:
            ok = signer.verify(idx=idx, dnsfunc=lookup)
            outcome = "pass" if ok else ("temperror" if lookup_failed else
                                         "fail" if getattr(signer, "pk", None) is not None
                                         else "permerror")
        except dkim.ValidationError as exc:  # a broken hash is a fail, not an error
            outcome = "fail" if "mismatch" in str(exc) else "permerror"
        except Exception:  # a malformed signature or key (dkimpy raises several kinds)
            outcome = "permerror"
        lookup_failed = lookup_failed or before
        domain = _text(getattr(signer, "domain", None))
        first_domain = first_domain or domain
        if outcome == "pass":
            return MailAuthentication("dkim-check", {"dkim": "pass"},
                                      {"dkim": domain} if domain else {})
        outcomes.append(outcome)
    result = ("fail" if "fail" in outcomes else
              "temperror" if "temperror" in outcomes else "permerror")
    return MailAuthentication("dkim-check", {"dkim": result},
                              {"dkim": first_domain} if first_domain else {})


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return clean_line(value.decode("ascii", "replace").lower(), max_chars=253) or None
    return None


def _drop_comments(text: str) -> str:
    out: list[str] = []
    depth = 0
    quoted = False
    for ch in text:
        if ch == '"' and depth == 0:
            quoted = not quoted
        if not quoted and ch == "(":
            depth += 1
            continue
        if not quoted and ch == ")" and depth:
            depth -= 1
            continue
        if depth == 0:
            out.append(ch)
    return "".join(out)


def _split_semicolons(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts
