"""One rule for telling whether two Message-IDs name the same email: ours come back in
bounces and replies folded, spaced, with or without their angle brackets, or with the
domain in capitals (intake's indexes already compare them without case)."""

from __future__ import annotations


def bare_message_id(value: str) -> str:
    """``value`` without whitespace or angle brackets, in lower case."""
    return "".join(value.split()).strip("<>").lower()
