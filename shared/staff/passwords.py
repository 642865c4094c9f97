"""Staff passwords: argon2id hashes (PHC strings) and the password rules.

Parameters follow OWASP's password storage cheat sheet (argon2id, 19 MiB, 2 passes, one
lane); tests pass cheaper ones. Passwords are normalised to Unicode NFKC before hashing
(NIST SP 800-63B): Vietnamese keyboards send the same letter composed or decomposed, and
a person must not be locked out by their input method.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cached_property

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
#: far above any real password; bounds the work an attacker can make us do per attempt
MAX_LENGTH = 1024
PHC_PREFIX = "$argon2id$"


@dataclass(frozen=True)
class Argon2Parameters:
    time_cost: int = 2
    memory_kib: int = 19 * 1024
    parallelism: int = 1
    hash_len: int = 32
    salt_len: int = 16


#: OWASP's second argon2id configuration (m=19 MiB, t=2, p=1): about 45 ms here
DEFAULT_PARAMETERS = Argon2Parameters()


class WeakPassword(ValueError):
    """The password breaks a rule; the message says which (never the password)."""


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_policy(password: str, *, user_id: str = "", name: str = "") -> None:
    """Raise WeakPassword unless ``password`` may be set for this user."""
    text = normalise(password)
    if len(text) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(text) > MAX_LENGTH:
        raise WeakPassword(f"a password has at most {MAX_LENGTH} characters")
    if not text.strip():
        raise WeakPassword("a password cannot be only spaces")
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise WeakPassword("a password cannot contain control characters")
    if len(set(text)) == 1:
        raise WeakPassword("a password cannot repeat one character")
    folded = _fold(text)
    for label, value in (("user id", user_id), ("name", name)):
        own = _fold(normalise(value))
        if own and (folded == own or (len(own) >= 4 and own in folded)):
            raise WeakPassword(f"a password cannot be or contain the user's {label}")


def _fold(text: str) -> str:
    return "".join(text.casefold().split())


class Passwords:
    """Hash, verify and report outdated hashes with one set of parameters."""

    def __init__(self, parameters: Argon2Parameters = DEFAULT_PARAMETERS) -> None:
        self.parameters = parameters
        self._hasher = PasswordHasher(
            time_cost=parameters.time_cost, memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism, hash_len=parameters.hash_len,
            salt_len=parameters.salt_len, type=Type.ID)

    def hash(self, password: str) -> str:
        """The PHC string of a new salted hash. The caller checks the policy first."""
        return self._hasher.hash(normalise(password))

    def verify(self, phc: str, password: str) -> bool:
        """True iff ``password`` matches; False for a mismatch or an unusable hash."""
        if not phc.startswith(PHC_PREFIX) or len(password) > 4 * MAX_LENGTH:
            return False
        try:
            return self._hasher.verify(phc, normalise(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, phc: str) -> bool:
        """True if ``phc`` was made with other parameters (hash again at the next sign-in)."""
        try:
            return self._hasher.check_needs_rehash(phc)
        except (InvalidHashError, ValueError):
            return True

    def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification and learn nothing: the path for unknown users,
        so the response time does not reveal which user ids exist."""
        self.verify(self._dummy_hash, password)

    def warm_up(self) -> None:
        """Make the dummy hash now (at start), so the first unknown user's sign-in does not
        take longer than the others'."""
        _ = self._dummy_hash

    @cached_property
    def _dummy_hash(self) -> str:
        # Made with our own parameters, so it costs what a real user's verification costs.
        return self._hasher.hash("hotro dummy password (no account has it)")


_default: Passwords | None = None


def default_passwords() -> Passwords:
    """One process-wide hasher with the default parameters (one dummy hash per process)."""
    global _default
    if _default is None:
        _default = Passwords()
    return _default


def is_argon2id_phc(value: str) -> bool:
    from argon2 import extract_parameters

    if not value.startswith(PHC_PREFIX):
        return False
    try:
        extract_parameters(value)
    except (InvalidHashError, ValueError):
        return False
    return True
