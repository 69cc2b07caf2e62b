"""How many worker threads run database work at once.

SQLite runs inside this process: its work is CPU under the GIL, so more
threads than cores only hand the GIL back and forth. With anyio's default
of 40 threads, 16 concurrent page requests got 21 requests/s; with 2 (the
cores of the bench machine), 25.7. PostgreSQL work mostly waits on the
network, where more threads overlap the waits: it keeps anyio's default.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from engine.db import is_sqlite
from engine.runtime import Guanxi

T = TypeVar("T")

# A limiter belongs to the event loop it was made in.
_sqlite_limiters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _limiter(gx: Guanxi) -> anyio.CapacityLimiter | None:
    if not is_sqlite(gx.engine):
        return None
    loop = asyncio.get_running_loop()
    limiter = _sqlite_limiters.get(loop)
    if limiter is None:
        limiter = _sqlite_limiters[loop] = anyio.CapacityLimiter(max(2, os.cpu_count() or 2))
    return limiter


async def run_db(gx: Guanxi, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a worker thread, off the event loop."""
    return await anyio.to_thread.run_sync(partial(fn, *args), limiter=_limiter(gx))
