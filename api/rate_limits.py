"""Per-key rate limits: requests per key per minute, counted where every
worker sees them (Redis when GUANXI_REDIS_URL is set, the database
otherwise: api/rate_limit_stores.py).

A fixed window of one minute: the first request of a key in a minute opens
its counter, each request adds one, and past the role's limit requests are
refused with HTTP 429, ``Retry-After`` (seconds to the next minute) and the
code ``RATE_LIMITED`` until the minute ends. Requests without a valid key
(missing, unknown or revoked) are counted per client address in the process
(cheap, and enough to slow down guessing keys).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from api.cost import parse_role_numbers
from engine.config import Settings
from engine.enums import Role

WINDOW_SECONDS = 60

# Requests per minute per key (0: unlimited). A front-end's page makes a few
# requests; an integration posting interactions one by one makes more.
DEFAULT_LIMITS: dict[Role, int] = {
    Role.VIEWER: 1_200,
    Role.ANALYST: 1_200,
    Role.AGENT: 3_000,
    Role.ADMIN: 3_000,
    Role.PLATFORM: 600,
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until the window ends

    def headers(self) -> dict[str, str]:
        headers = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining)}
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


class AnonymousCounter:
    """Requests without a valid key, per client address and minute, in this
    process (the event loop's thread only: no lock)."""

    def __init__(self, limit: int):
        self.limit = limit
        self._minute = -1
        self._counts: dict[str, int] = {}

    def hit(self, address: str, minute: int) -> int:
        if minute != self._minute:  # a new minute forgets the last one's addresses
            self._minute, self._counts = minute, {}
        count = self._counts.get(address, 0) + 1
        self._counts[address] = count
        return count


class RateLimits:
    """The limits of one app: ``check_key`` in a worker thread (it may reach
    the store), ``check_anonymous`` on the event loop."""

    def __init__(self, store, limits: dict[Role, int], anonymous_limit: int, clock: Callable[[], float] = time.time):
        self.store, self.limits, self.clock = store, limits, clock
        self.anonymous = AnonymousCounter(anonymous_limit)

    @classmethod
    def from_settings(cls, settings: Settings, gx) -> "RateLimits":
        from api.rate_limit_stores import store_for

        limits = parse_role_numbers(settings.rate_limits, DEFAULT_LIMITS, "GUANXI_RATE_LIMITS")
        return cls(store_for(settings, gx), limits, settings.rate_limit_anonymous)

    def check_key(self, key_id: int, role: Role, tenant_id: int | None) -> Decision | None:
        """The key's decision for one more request (None: its role is unlimited)."""
        limit = self.limits.get(role, 0)
        if limit <= 0:
            return None
        now = self.clock()
        minute = int(now // WINDOW_SECONDS)
        count = self.store.hit(key_id, tenant_id, minute)
        if count is None:  # the store could not count (it logged why): let the request through
            return None
        return _decide(count, limit, now, minute)

    def check_anonymous(self, address: str) -> Decision | None:
        limit = self.anonymous.limit
        if limit <= 0:
            return None
        now = self.clock()
        minute = int(now // WINDOW_SECONDS)
        return _decide(self.anonymous.hit(address, minute), limit, now, minute)

    def close(self) -> None:
        self.store.close()


def _decide(count: int, limit: int, now: float, minute: int) -> Decision:
    retry_after = max(1, math.ceil((minute + 1) * WINDOW_SECONDS - now))
    return Decision(count <= limit, limit, max(0, limit - count), retry_after)
