"""Bounds on every wait for PostgreSQL, so a partitioned or frozen server
costs a request seconds, not for ever.

- opening a connection: libpq's ``connect_timeout``;
- a silent peer: TCP keepalives and ``tcp_user_timeout`` (a real partition,
  where the kernel stops getting acknowledgements);
- a server that accepts bytes but never answers (a stopped backend, a proxy
  that stopped forwarding: the kernel still acknowledges, so TCP sees nothing
  wrong): ``BoundedConnection`` gives every wait for an answer a deadline,
  then closes the connection, which SQLAlchemy treats as a disconnect;
- a statement the server is still running: ``statement_timeout``.
"""

from __future__ import annotations

import psycopg
from psycopg import errors as pg_errors

# Keepalive probes on idle connections: a dead peer is noticed in about
# idle + interval * count seconds.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}


class BoundedConnection(psycopg.Connection):
    """A psycopg connection whose waits for the server end after ``response_timeout`` seconds."""

    response_timeout: float | None = None

    def wait(self, gen, *args, **kwargs):
        if self.response_timeout is None or kwargs.get("timeout") is not None or len(args) > 1:
            return super().wait(gen, *args, **kwargs)  # the caller chose its own deadline
        try:
            return super().wait(gen, *args, **{**kwargs, "timeout": self.response_timeout})
        except pg_errors._WaitTimeout:
            # Half-way through the protocol: the connection cannot be reused.
            self.close()
            raise psycopg.OperationalError(
                f"the database did not answer within {self.response_timeout:g} s; connection closed") from None


def connect_args(url_query, connect_timeout_s: int, response_timeout_s: float | None) -> dict:
    """libpq parameters bounding connects and noticing dead peers; what the URL sets itself wins."""
    args = {"connect_timeout": connect_timeout_s, **KEEPALIVES}
    if response_timeout_s:
        args["tcp_user_timeout"] = int(response_timeout_s * 1000)
    return {key: value for key, value in args.items() if key not in url_query}
