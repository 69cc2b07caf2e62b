"""Recording interactions: validation, duplicates, refunds and customer statistics."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine.errors import NotFound, ValidationFailed
from engine.models import Customer, Interaction
from engine.services.customers import create_customer
from engine.services.interactions import record_interaction, record_interactions
from tests.concurrency import run_in_threads

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shanghai


def _customer(gx, tenant, **fields) -> int:
    with gx.tenant(tenant) as ctx:
        return create_customer(ctx, {"name": "客户", **fields}).id


def _stats(gx, customer_id):
    with gx.system(write=False) as session:
        c = session.get(Customer, customer_id)
        return c.purchase_count, c.purchase_days, c.total_spent, c.refunded_amount, c.first_purchase_at, c.last_purchase_at


def test_a_purchase_updates_the_customer_statistics(gx, tenant):
    cid = _customer(gx, tenant)
    with gx.tenant(tenant) as ctx:
        recorded, duplicate = record_interaction(ctx, {
            "customer_id": cid, "kind": "purchase", "occurred_at": T0, "amount": "88.80", "quantity": 2,
            "channel": "wechat", "store": "SH-01", "staff": "s1", "external_id": "order-1",
        })
    assert not duplicate
    assert (recorded.kind, recorded.channel, recorded.amount) == ("PURCHASE", "WECHAT", Decimal("88.80"))
    count, days, spent, refunded, first, last = _stats(gx, cid)
    assert (count, days, spent, refunded) == (1, 1, Decimal("88.80"), Decimal("0.00"))
    assert first == last == T0
    with gx.system(write=False) as session:
        assert session.get(Customer, cid).role == "EXISTING"


def test_retried_submission_records_nothing_twice_and_names_the_duplicates(gx, tenant):
    cid = _customer(gx, tenant)
    items = [
        {"customer_id": cid, "kind": "PURCHASE", "occurred_at": T0 + timedelta(hours=i), "amount": "10", "external_id": f"o-{i}"}
        for i in range(3)
    ]
    with gx.tenant(tenant) as ctx:
        first = record_interactions(ctx, items + [dict(items[0])])  # same id twice in one submission
    with gx.tenant(tenant) as ctx:
        again = record_interactions(ctx, items)
    assert len(first.recorded) == 3
    assert [(d.index, d.external_id, d.existing_id) for d in first.duplicates] == [(3, "o-0", None)]
    assert again.recorded == []
    assert sorted(d.external_id for d in again.duplicates) == ["o-0", "o-1", "o-2"]
    assert all(d.existing_id for d in again.duplicates)
    assert _stats(gx, cid)[:3] == (3, 1, Decimal("30.00"))


@pytest.mark.parametrize(
    "change, field",
    [
        ({"amount": "12.345"}, "amount"),
        ({"amount": "twelve"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": None}, "amount"),
        ({"quantity": -1}, "quantity"),
        ({"kind": "teleport"}, "kind"),
        ({"channel": "carrier pigeon"}, "channel"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ({"customer_id": 987654321}, "customer_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_interaction_names_the_field_and_writes_nothing(gx, tenant, change, field):
    cid = _customer(gx, tenant)
    item = {"customer_id": cid, "kind": "PURCHASE", "occurred_at": T0, "amount": "10.00", **change}
    with pytest.raises(ValidationFailed) as caught:
        with gx.tenant(tenant) as ctx:
            record_interaction(ctx, item)
    assert field in {e.field for e in caught.value.errors}
    with gx.system(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Interaction).where(Interaction.customer_id == cid)) == 0
    assert _stats(gx, cid)[0] == 0


def test_unknown_tenant_is_a_clear_error(gx):
    with pytest.raises(NotFound, match="no tenant"):
        with gx.tenant("no-such-tenant"):
            pass


def test_bulk_stores_valid_items_and_lists_invalid_ones_with_reasons(gx, tenant):
    cid = _customer(gx, tenant)
    items = [
        {"customer_id": cid, "kind": "PURCHASE", "occurred_at": T0, "amount": "20"},
        {"customer_id": cid, "kind": "PURCHASE", "occurred_at": T0, "amount": "1.001"},
        {"customer_id": cid, "kind": "VISIT", "occurred_at": T0, "store": "SH-01"},
        "not an object",
    ]
    with gx.tenant(tenant) as ctx:
        result = record_interactions(ctx, items)
    assert result.recorded_indexes == [0, 2]
    assert {i: [e.field for e in errs] for i, errs in result.errors.items()} == {1: ["amount"], 3: [""]}
    assert _stats(gx, cid)[:3] == (1, 1, Decimal("20.00"))


def test_refunds_reverse_a_known_purchase_of_the_same_customer(gx, tenant):
    cid = _customer(gx, tenant)
    other = _customer(gx, tenant)
    with gx.tenant(tenant) as ctx:
        result = record_interactions(ctx, [
            {"customer_id": cid, "kind": "PURCHASE", "occurred_at": T0, "amount": "100", "external_id": "p1"},
            {"kind": "REFUND", "occurred_at": T0 + timedelta(days=1), "amount": "30", "reverses_external_id": "p1"},
            {"kind": "REFUND", "occurred_at": T0 + timedelta(days=2), "amount": "80", "reverses_external_id": "p1"},
            {"kind": "REFUND", "occurred_at": T0 + timedelta(days=2), "amount": "5", "reverses_external_id": "nope"},
            {"customer_id": other, "kind": "REFUND", "occurred_at": T0 + timedelta(days=2), "amount": "5", "reverses_external_id": "p1"},
            {"customer_id": cid, "kind": "REFUND", "occurred_at": T0, "amount": "5"},
            {"customer_id": cid, "kind": "VISIT", "occurred_at": T0, "reverses_external_id": "p1"},
        ])
    assert len(result.recorded) == 2
    refund = next(r for r in result.recorded if r.kind == "REFUND")
    assert refund.customer_id == cid and refund.reverses_id == result.recorded[0].id
    errors = {i: (errs[0].field, errs[0].message) for i, errs in result.errors.items()}
    assert errors[2][0] == "amount" and "exceeds" in errors[2][1]  # 30 + 80 > 100
    assert errors[3][0] == "reverses_external_id" and "no purchase" in errors[3][1]
    assert "another customer" in errors[4][1]
    assert errors[5][0] == "reverses_id"
    assert errors[6][0] == "reverses_id"
    assert _stats(gx, cid)[:4] == (1, 1, Decimal("100.00"), Decimal("30.00"))


def test_refunds_are_isolated_by_tenant(gx, make_tenant):
    a, b = make_tenant(), make_tenant()
    ca, cb = _customer(gx, a), _customer(gx, b)
    with gx.tenant(a) as ctx:
        purchase, _ = record_interaction(ctx, {"customer_id": ca, "kind": "PURCHASE", "occurred_at": T0, "amount": "50"})
    with pytest.raises(ValidationFailed, match="no purchase"):
        with gx.tenant(b) as ctx:
            record_interaction(ctx, {"customer_id": cb, "kind": "REFUND", "occurred_at": T0, "amount": "5", "reverses_id": purchase.id})


def test_distinct_purchase_days_use_the_tenant_time_zone_and_survive_backfill(gx, tenant):
    cid = _customer(gx, tenant)
    # 23:30 and 00:30 UTC are the same Shanghai day (07:30 and 08:30 next day... local).
    late = datetime(2026, 3, 1, 15, 30, tzinfo=timezone.utc)  # 23:30 Shanghai, 1 March
    early = datetime(2026, 3, 1, 16, 30, tzinfo=timezone.utc)  # 00:30 Shanghai, 2 March
    with gx.tenant(tenant) as ctx:
        record_interactions(ctx, [
            {"customer_id": cid, "kind": "PURCHASE", "occurred_at": late, "amount": "1"},
            {"customer_id": cid, "kind": "PURCHASE", "occurred_at": early, "amount": "1"},
            {"customer_id": cid, "kind": "PURCHASE", "occurred_at": early + timedelta(hours=3), "amount": "1"},
        ])
    assert _stats(gx, cid)[:2] == (3, 2)
    # Back-filled history: an older purchase on an existing day and one on a new day.
    with gx.tenant(tenant) as ctx:
        record_interactions(ctx, [
            {"customer_id": cid, "kind": "PURCHASE", "occurred_at": late - timedelta(hours=5), "amount": "1"},
            {"customer_id": cid, "kind": "PURCHASE", "occurred_at": late - timedelta(days=10), "amount": "1"},
        ])
    count, days, spent, _, first, last = _stats(gx, cid)
    assert (count, days, spent) == (5, 3, Decimal("5.00"))
    assert first == late - timedelta(days=10) and last == early + timedelta(hours=3)


def test_naive_times_are_read_in_the_tenant_time_zone(gx, make_tenant):
    tenant = make_tenant(timezone="Asia/Shanghai")
    cid = _customer(gx, tenant)
    with gx.tenant(tenant) as ctx:
        recorded, _ = record_interaction(ctx, {"customer_id": cid, "kind": "VISIT", "occurred_at": "2026-03-01T10:00:00"})
    assert recorded.occurred_at == T0


def test_stats_equal_a_recomputation_from_the_stored_interactions(gx, tenant):
    import random

    rnd = random.Random(3)
    ids = [_customer(gx, tenant) for _ in range(5)]
    items = []
    for n in range(300):
        items.append({"customer_id": rnd.choice(ids), "kind": "PURCHASE", "external_id": f"x{n}",
                      "occurred_at": T0 + timedelta(hours=rnd.randint(0, 24 * 60)), "amount": f"{rnd.randint(1, 9999) / 100:.2f}"})
    with gx.tenant(tenant) as ctx:
        record_interactions(ctx, items[:150], chunk_size=40)
    with gx.tenant(tenant) as ctx:
        record_interactions(ctx, items[100:], chunk_size=33)  # overlaps: 50 duplicates
    with gx.system(write=False) as session:
        expected = session.execute(
            select(Interaction.customer_id, func.count(), func.count(func.distinct(Interaction.local_day)),
                   func.sum(Interaction.amount), func.min(Interaction.occurred_at), func.max(Interaction.occurred_at))
            .where(Interaction.customer_id.in_(ids)).group_by(Interaction.customer_id)
        ).all()
        total = 0
        for customer_id, count, days, spent, first, last in expected:
            c = session.get(Customer, customer_id)
            assert (c.purchase_count, c.purchase_days) == (count, days)
            assert c.total_spent == Decimal(spent).quantize(Decimal("0.01"))
            assert c.first_purchase_at.replace(tzinfo=None) == first.replace(tzinfo=None)
            assert c.last_purchase_at.replace(tzinfo=None) == last.replace(tzinfo=None)
            total += count
    assert total == 300


def test_concurrent_recordings_for_the_same_customers_lose_no_statistics(gx, tenant):
    """Writers that fold purchases into the same customers at once (several API
    workers on PostgreSQL) must add up; none may overwrite another's totals."""
    customers = [_customer(gx, tenant) for _ in range(3)]

    def writer(n: int) -> None:
        for i in range(10):
            with gx.tenant(tenant, actor="t") as ctx:
                record_interactions(ctx, [
                    {"customer_id": cid, "kind": "PURCHASE", "occurred_at": T0 + timedelta(days=n * 10 + i),
                     "amount": "1.00"}
                    for cid in (customers if n % 2 else customers[::-1])
                ])

    assert run_in_threads(writer, 6) == []
    for cid in customers:
        count, days, spent, _, first, last = _stats(gx, cid)
        assert (count, days, spent) == (60, 60, Decimal("60.00"))
        assert (first, last) == (T0, T0 + timedelta(days=59))


def test_concurrent_multi_chunk_submissions_in_opposite_orders_do_not_deadlock(gx, tenant):
    """A bulk submission is folded in chunk by chunk in one transaction. Two of
    them touching the same customers in opposite orders must not each hold
    what the other's next chunk needs (PostgreSQL would abort one)."""
    customers = [_customer(gx, tenant) for _ in range(4)]

    def writer(n: int) -> None:
        order = customers if n % 2 else customers[::-1]
        for i in range(5):
            with gx.tenant(tenant, actor="t") as ctx:
                record_interactions(ctx, [
                    {"customer_id": cid, "kind": "PURCHASE", "occurred_at": T0 + timedelta(days=n * 10 + i),
                     "amount": "1.00"}
                    for cid in order
                ], chunk_size=1)

    assert run_in_threads(writer, 4) == []
    for cid in customers:
        assert _stats(gx, cid)[0] == 20


def test_a_multi_chunk_submission_still_reports_bad_customer_references_per_item(gx, tenant):
    cid = _customer(gx, tenant)
    items = [{"customer_id": ref, "kind": "PURCHASE", "occurred_at": T0, "amount": "5.00"}
             for ref in (cid, 10**30, "abc", -1)]
    items.append({"customer_code": "nobody", "kind": "PURCHASE", "occurred_at": T0, "amount": "5.00"})
    items.append({"customer_id": cid, "kind": "PURCHASE", "occurred_at": T0, "amount": "5.00", "quantity": 10**12})
    with gx.tenant(tenant) as ctx:
        result = record_interactions(ctx, items, chunk_size=2)
    assert result.recorded_indexes == [0]
    assert {index: errors[0].field for index, errors in result.errors.items()} == {
        1: "customer_id", 2: "customer_id", 3: "customer_id", 4: "customer_code", 5: "quantity"}
    assert "out of range" in result.errors[1][0].message
    assert _stats(gx, cid)[0] == 1


def test_concurrent_multi_chunk_refunds_naming_only_their_purchases_do_not_deadlock(gx, tenant):
    customers = [_customer(gx, tenant) for _ in range(4)]
    with gx.tenant(tenant) as ctx:
        record_interactions(ctx, [
            {"customer_id": cid, "kind": "PURCHASE", "occurred_at": T0, "amount": "10.00", "external_id": f"p-{cid}-{k}"}
            for cid in customers for k in range(20)
        ])

    def writer(n: int) -> None:
        order = customers if n % 2 else customers[::-1]
        for i in range(5):
            with gx.tenant(tenant, actor="t") as ctx:
                result = record_interactions(ctx, [
                    {"kind": "REFUND", "occurred_at": T0 + timedelta(days=1), "amount": "1.00",
                     "reverses_external_id": f"p-{cid}-{n * 5 + i}"}
                    for cid in order
                ], chunk_size=1)
                assert not result.errors

    assert run_in_threads(writer, 4) == []
    for cid in customers:
        assert _stats(gx, cid)[3] == Decimal("20.00")
