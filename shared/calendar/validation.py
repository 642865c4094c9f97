"""Turn pydantic validation errors into messages that name the offending data-file entry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

# Keys that identify an entry of a data file, in the order we prefer to show them.
_IDENTIFYING_KEYS = ("id", "ref", "date", "dates", "product", "category", "kind")


def describe_location(raw: Any, loc: Sequence[int | str]) -> str:
    """Render ``("days", 3, "kind")`` as ``days[3] (date=2024-02-10, kind=holidy).kind``."""
    text = ""
    node: Any = raw
    for key in loc:
        if isinstance(key, int):
            in_range = isinstance(node, list) and 0 <= key < len(node)
            node = node[key] if in_range else None
            text += f"[{key}]"
            label = _entry_label(node)
            if label:
                text += f" ({label})"
        else:
            text += f".{key}" if text else str(key)
            node = node.get(key) if isinstance(node, Mapping) else None
    return text or "(top level)"


def _entry_label(node: Any) -> str:
    if not isinstance(node, Mapping):
        return ""
    return ", ".join(f"{key}={node[key]}" for key in _IDENTIFYING_KEYS if key in node)


def format_validation_error(origin: str, raw: Any, exc: ValidationError) -> str:
    lines = [f"{origin}: {exc.error_count()} invalid value(s)"]
    for error in exc.errors(include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        lines.append(f"  - {describe_location(raw, error['loc'])}: {message}")
    return "\n".join(lines)
