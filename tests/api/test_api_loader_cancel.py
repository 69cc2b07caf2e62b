"""A field cancelled by graphql-core must not cancel another field's load.

graphql-core cancels the siblings of a field that fails; two fields asking a
DataLoader for the same key share one cached future. Before the loaders were
shielded, cancelling one waiter cancelled that shared future and the other
field's CancelledError aborted the whole request (seen under PostgreSQL in CI
as requests that ended with no response at all).
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from api.context import Principal, RequestContext
from api.pagination import Cursors
from engine.enums import Role

pytestmark = pytest.mark.anyio


def _context(gx, slug: str) -> RequestContext:
    from engine.services.tenants import get_tenant

    with gx.system(write=False) as session:
        tenant = get_tenant(session, slug)
    return RequestContext(gx, Principal(key_id=0, role=Role.VIEWER, tenant=tenant), Cursors(b"k" * 32))


async def test_cancelling_one_waiter_leaves_the_shared_load_to_the_others(gx, tenant):
    context = _context(gx, tenant)
    release = threading.Event()
    batches: list[list[int]] = []

    def batch(_session, keys):
        batches.append(keys)
        release.wait(10)
        return {k: f"row {k}" for k in keys}

    async def field(key):
        return await context.loader("rows", batch).load(key)

    failing = asyncio.ensure_future(field(7))
    surviving = asyncio.ensure_future(field(7))
    while not batches:  # both fields wait on the same batch in its worker thread
        await asyncio.sleep(0.01)
    failing.cancel()
    release.set()

    assert await surviving == "row 7"
    assert failing.cancelled()
    assert batches == [[7]]  # one batch served both fields


async def test_a_failed_load_nobody_waits_for_any_more_is_not_logged_as_unretrieved(gx, tenant, caplog):
    import gc
    import logging

    context = _context(gx, tenant)
    release = threading.Event()

    def batch(_session, keys):
        release.wait(10)
        raise ValueError("bad cursor")

    waiter = asyncio.ensure_future(context.loader("rows", batch).load(1))
    await asyncio.sleep(0.05)
    waiter.cancel()  # graphql-core cancelled the field: nobody will read the error
    release.set()
    await asyncio.sleep(0.2)
    del context, waiter
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        gc.collect()
        await asyncio.sleep(0)
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
