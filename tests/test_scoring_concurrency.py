"""A scoring run does not hold up the tenant's writes (PostgreSQL).

Runs used to lock the tenant's row (SELECT ... FOR UPDATE): every insert
referencing the tenant (interactions, audit events, so every audited
mutation) waited for the whole run. SQLite has one writer at a time anyway.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from engine.scoring import run_scoring
from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from engine.testing import new_tenant

pytestmark = pytest.mark.anyio
WAIT = 60  # seconds; generous on a loaded machine, and far below "never"


def _buyers(gx, slug: str) -> int:
    now = datetime.now(timezone.utc)
    with gx.tenant(slug) as ctx:
        customer = create_customer(ctx, {"name": "常客"})
        record_interactions(ctx, [{"customer_id": customer.id, "kind": "PURCHASE", "amount": "99",
                                   "occurred_at": now - timedelta(days=d)} for d in range(1, 4)])
    return customer.id


async def test_writes_and_audited_mutations_go_through_while_a_scoring_run_is_open(gx, api):
    if gx.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises every write transaction")
    slug = new_tenant(gx, ["rfm"])
    customer_id = _buyers(gx, slug)
    scored, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def score_and_hold() -> None:
        try:
            with gx.tenant(slug, actor="test") as ctx:
                run_scoring(ctx, ["rfm"])
                scored.set()
                release.wait(WAIT)  # the run's transaction stays open
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)
            scored.set()

    run = threading.Thread(target=score_and_hold)
    run.start()
    try:
        assert scored.wait(WAIT) and not failures, failures
        recorded = threading.Thread(target=lambda: _record(gx, slug, customer_id))
        recorded.start()
        recorded.join(WAIT)
        assert not recorded.is_alive(), "recording an interaction waited for the scoring run"
        client = api(slug, "AGENT")
        body = await client.gql("mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } errors { message } } }",
                                {"i": {"name": "新客"}})
        assert body["data"]["createCustomer"]["errors"] == []
        assert run.is_alive()  # all of it while the run was still open
    finally:
        release.set()
        run.join(WAIT)
    assert not failures, failures


def _record(gx, slug: str, customer_id: int) -> None:
    with gx.tenant(slug, actor="test") as ctx:
        record_interactions(ctx, [{"customer_id": customer_id, "kind": "VISIT", "occurred_at": datetime.now(timezone.utc)}])


def test_two_runs_for_one_tenant_still_take_turns(gx):
    """The advisory lock that replaced the row lock still serialises runs of one tenant."""
    if gx.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises every write transaction")
    slug = new_tenant(gx, ["rfm"])
    _buyers(gx, slug)
    first_done, second_done = threading.Event(), threading.Event()
    order: list[str] = []

    def first() -> None:
        with gx.tenant(slug) as ctx:
            run_scoring(ctx, ["rfm"])
            second = threading.Thread(target=run_second)
            second.start()
            second_done.wait(2)  # give it time to overtake, were it not waiting for this run
            order.append("first commits")
        second.join(WAIT)
        first_done.set()

    def run_second() -> None:
        with gx.tenant(slug) as ctx:
            run_scoring(ctx, ["rfm"])
        order.append("second done")
        second_done.set()

    thread = threading.Thread(target=first)
    thread.start()
    thread.join(WAIT * 2)
    assert order == ["first commits", "second done"]
