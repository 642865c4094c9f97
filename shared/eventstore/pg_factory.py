"""eventsourcing's PostgreSQL factory, as every PostgreSQL store uses it:

* its recorders write without pipeline mode (``pg_recorders.py``);
* its connections are opened with the store URL's TLS options (``pg_security.py``): the
  datastore has no TLS setting of its own, so ``sslmode`` and ``sslrootcert`` are added
  to its connection pool's arguments and reach every connection libpq opens."""

from __future__ import annotations

from typing import Any

from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment, EnvType

from hotro.shared.eventstore.pg_recorders import PlainApplicationRecorder, PlainProcessRecorder
from hotro.shared.eventstore.pg_security import LIBPQ_OPTIONS


class Factory(PostgresFactory):
    """eventsourcing's PostgreSQL factory: plain write transactions, TLS options."""

    application_recorder_class = PlainApplicationRecorder
    process_recorder_class = PlainProcessRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        extra: dict[str, Any] = {option: value for key, option in LIBPQ_OPTIONS.items()
                                 if (value := self.env.get(key))}
        kwargs = self.datastore.pool.kwargs
        assert isinstance(kwargs, dict)
        kwargs.update(extra)
