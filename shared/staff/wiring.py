"""One way for a service to build its ``Authenticator`` from its settings."""

from __future__ import annotations

from collections.abc import Callable

from hotro.shared.settings import ServiceSettings
from hotro.shared.staff import assertions, capabilities
from hotro.shared.staff.http import Authenticator
from hotro.shared.staff.signing import KeyRing, load_keys
from hotro.shared.staff.users import Directory, DirectoryFile


def capability_keys(settings: ServiceSettings) -> KeyRing | None:
    if settings.capability_keys_file is None:
        return None
    return load_keys(settings.capability_keys_file, capabilities.PURPOSE)


def authenticator_for(settings: ServiceSettings, *,
                      capability_generation: Callable[[str], int | None] | None = None
                      ) -> Authenticator:
    """The users file (reloaded when it changes), the assertion keys, and — for the service
    that holds cases and passes ``capability_generation`` — the customer capability keys."""
    directory: Directory | DirectoryFile = (
        DirectoryFile(settings.users_file) if settings.users_file else Directory(()))
    assertion_keys = (load_keys(settings.auth_keys_file, assertions.PURPOSE)
                      if settings.auth_keys_file else None)
    return Authenticator(
        directory, assertion_keys=assertion_keys,
        capability_keys=capability_keys(settings) if capability_generation else None,
        capability_generation=capability_generation)
