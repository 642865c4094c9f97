"""Structured (JSON lines) logs; complaint and correlation ids ride along via ``extra``."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_FIELDS = ("service", "replica", "complaint_id", "correlation_id", "event_id", "event_type",
           "msg_id", "partition", "notification_id", "reference")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for field in _FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                out[field] = str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure_logging(service: str, replica: str, level: str = "INFO",
                      as_json: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))

    class _Ctx(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.service = getattr(record, "service", service)
            record.replica = getattr(record, "replica", replica)
            return True

    handler.addFilter(_Ctx())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("nats").setLevel("WARNING")
    # nats-py warns on every KV key listing with filters, which is how it always works
    logging.getLogger("nats.js.kv").setLevel("ERROR")
