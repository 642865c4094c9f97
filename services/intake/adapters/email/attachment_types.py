"""What an attachment really is, and whether we take it: moved to shared (routing's
department files are judged the same way)."""

from hotro.shared.attachment_types import (
    EXTENSION_TYPES,
    TypeVerdict,
    compatible,
    declared_type,
    judge,
    sniff,
)

__all__ = ["EXTENSION_TYPES", "TypeVerdict", "compatible", "declared_type", "judge", "sniff"]
