"""Refunds: found through the reverses index, never more than was paid, never before their purchase."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from api.ids import to_global_id
from engine.bulk import RawCursor
from engine.errors import ValidationFailed
from engine.models import Customer, Interaction
from engine.services.customers import create_customer
from engine.services.importer import import_file
from engine.services.interactions import record_interaction, record_interactions
from plugins.loyalty.models import LoyaltyLedgerEntry
from tests.concurrency import run_in_threads

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc)
REVERSES_INDEX = "ix_interactions_tenant_reverses"


def _customer(gx, tenant, **fields) -> int:
    with gx.tenant(tenant) as ctx:
        return create_customer(ctx, {"name": "客户", **fields}).id


def _purchase(gx, tenant, cid, amount="100.00", at=T0, external_id=None):
    with gx.tenant(tenant) as ctx:
        return record_interaction(ctx, {"customer_id": cid, "kind": "PURCHASE", "occurred_at": at, "amount": amount,
                                        "external_id": external_id})[0]


def _refunded(gx, cid) -> Decimal:
    with gx.system(write=False) as session:
        return session.get(Customer, cid).refunded_amount


def _stored_refunds(gx, purchase_id) -> Decimal:
    with gx.system(write=False) as session:
        total = session.scalar(select(func.sum(Interaction.amount)).where(Interaction.reverses_id == purchase_id))
        return Decimal(total or 0).quantize(Decimal("0.01"))


# -- the index --------------------------------------------------------------------------


def _statements_reading_refunds(monkeypatch) -> list[tuple[str, tuple]]:
    """Every SELECT that looks refunds up by reverses_id, as sent to the driver."""
    seen: list[tuple[str, tuple]] = []
    real_run = RawCursor._run

    def run(self, sql, params, fetch):
        if sql.lstrip().upper().startswith("SELECT") and ("reverses_id =" in sql or "reverses_id IN" in sql):
            seen.append((sql, tuple(params)))
        return real_run(self, sql, params, fetch)

    monkeypatch.setattr(RawCursor, "_run", run)
    return seen


def _plan(ctx, sql: str, params: tuple) -> str:
    raw = RawCursor(ctx.session)
    if raw.postgres:
        return "\n".join(row[0] for row in raw.fetchall("EXPLAIN " + sql, params))
    return "\n".join(row[-1] for row in raw.fetchall("EXPLAIN QUERY PLAN " + sql, params))


def test_a_refund_reads_earlier_refunds_through_the_index_in_core_and_loyalty(gx, make_tenant, monkeypatch):
    tenant = make_tenant(modules=("loyalty", "rfm", "clv", "complaints"))
    customers = [_customer(gx, tenant) for _ in range(20)]
    with gx.tenant(tenant) as ctx:  # a history: purchases, visits and some refunds
        history = record_interactions(ctx, [
            {"customer_id": customers[n % 20], "kind": "PURCHASE" if n % 3 else "VISIT", "amount": "10.00" if n % 3 else None,
             "occurred_at": T0 - timedelta(minutes=n), "external_id": f"h-{n}"} for n in range(6000)
        ])
        record_interactions(ctx, [{"kind": "REFUND", "occurred_at": T0, "amount": "1.00", "reverses_id": p.id}
                                  for p in history.recorded[:300] if p.kind == "PURCHASE"])
    purchase = _purchase(gx, tenant, customers[0])
    seen = _statements_reading_refunds(monkeypatch)
    with gx.tenant(tenant) as ctx:
        refund_ids = [record_interaction(ctx, {"kind": "REFUND", "occurred_at": T0, "amount": "5.00",
                                               "reverses_id": purchase.id})[0].id for _ in range(2)]
    monkeypatch.undo()
    assert len(seen) >= 4  # the over-refund check and loyalty's reversal, for each refund
    with gx.tenant(tenant, write=False) as ctx:
        for sql, params in seen:
            plan = _plan(ctx, sql, params)
            assert REVERSES_INDEX in plan, plan
            assert "Seq Scan on interactions" not in plan and "SCAN interactions" not in plan, plan
    # Loyalty took back the points of each refund (5 of 100 paid), once per refund.
    with gx.tenant(tenant, write=False) as ctx:
        reversals = ctx.session.execute(select(LoyaltyLedgerEntry.interaction_id, LoyaltyLedgerEntry.points).where(
            LoyaltyLedgerEntry.tenant_id == ctx.tenant_id, LoyaltyLedgerEntry.kind == "REVERSE",
            LoyaltyLedgerEntry.interaction_id.in_(refund_ids))).all()
    assert sorted(r.interaction_id for r in reversals) == sorted(refund_ids)
    assert all(r.points < 0 for r in reversals)


# -- over-refunds -----------------------------------------------------------------------


def test_a_single_refund_beyond_what_is_left_is_refused_and_stores_nothing(gx, tenant):
    cid = _customer(gx, tenant)
    purchase = _purchase(gx, tenant, cid)
    with gx.tenant(tenant) as ctx:
        record_interaction(ctx, {"kind": "REFUND", "occurred_at": T0, "amount": "60", "reverses_id": purchase.id})
    with pytest.raises(ValidationFailed) as refused:
        with gx.tenant(tenant) as ctx:
            record_interaction(ctx, {"kind": "REFUND", "occurred_at": T0, "amount": "40.01", "reverses_id": purchase.id})
    assert refused.value.errors[0].field == "amount" and "(40.00)" in refused.value.errors[0].message
    with gx.tenant(tenant) as ctx:
        record_interaction(ctx, {"kind": "REFUND", "occurred_at": T0, "amount": "40", "reverses_id": purchase.id})
    assert _refunded(gx, cid) == Decimal("100.00") == _stored_refunds(gx, purchase.id)


def test_concurrent_refunds_of_one_purchase_never_return_more_than_was_paid(gx, make_tenant):
    tenant = make_tenant(modules=("loyalty",))
    cid = _customer(gx, tenant)
    purchase = _purchase(gx, tenant, cid, external_id="order-1")
    outcomes: list[str] = []

    def refund(n: int) -> None:
        try:
            with gx.tenant(tenant, actor=f"till-{n}") as ctx:
                reference = {"reverses_id": purchase.id} if n % 2 else {"reverses_external_id": "order-1"}
                record_interaction(ctx, {"kind": "REFUND", "occurred_at": T0, "amount": "30.00", **reference})
            outcomes.append("stored")
        except ValidationFailed as error:
            assert error.errors[0].field == "amount"
            outcomes.append("refused")

    assert run_in_threads(refund, 6) == []
    assert sorted(outcomes) == ["refused"] * 3 + ["stored"] * 3
    assert _refunded(gx, cid) == Decimal("90.00") == _stored_refunds(gx, purchase.id)


# -- refunds dated before their purchase ------------------------------------------------


def test_a_refund_dated_before_its_purchase_is_refused_on_occurred_at(gx, tenant):
    cid = _customer(gx, tenant)
    purchase = _purchase(gx, tenant, cid)
    with pytest.raises(ValidationFailed) as refused:
        with gx.tenant(tenant) as ctx:
            record_interaction(ctx, {"kind": "REFUND", "occurred_at": T0 - timedelta(seconds=1), "amount": "5",
                                     "reverses_id": purchase.id})
    assert [e.field for e in refused.value.errors] == ["occurred_at"]
    assert "before its purchase" in refused.value.errors[0].message
    with gx.tenant(tenant) as ctx:  # the same instant is fine (a refund at the till)
        record_interaction(ctx, {"kind": "REFUND", "occurred_at": T0, "amount": "5", "reverses_id": purchase.id})
    assert _refunded(gx, cid) == Decimal("5.00") == _stored_refunds(gx, purchase.id)


def test_bulk_graphql_refuses_refunds_dated_before_their_purchase_item_by_item(gx, tenant, graphql):
    cid = _customer(gx, tenant)
    customer = to_global_id("Customer", cid)
    items = [
        {"customerId": customer, "kind": "PURCHASE", "occurredAt": "2026-03-02T10:00:00Z", "amount": "50", "externalId": "o-1"},
        {"kind": "REFUND", "occurredAt": "2026-03-01T10:00:00Z", "amount": "5", "reversesExternalId": "o-1"},
        {"kind": "REFUND", "occurredAt": "2026-03-03T10:00:00Z", "amount": "5", "reversesExternalId": "o-1"},
    ]
    body = graphql(tenant).execute(
        "mutation($i: RecordInteractionsInput!) { recordInteractions(input: $i) "
        "{ recordedCount itemErrors { index field code message } errors { code } } }", {"i": {"items": items}})
    result = body["data"]["recordInteractions"]
    assert result["recordedCount"] == 2 and result["errors"] == []
    assert [(e["index"], e["field"]) for e in result["itemErrors"]] == [(1, "occurredAt")]
    assert _refunded(gx, cid) == Decimal("5.00")


def test_single_graphql_refund_before_its_purchase_comes_back_as_a_payload_error(gx, tenant, graphql):
    cid = _customer(gx, tenant)
    purchase = _purchase(gx, tenant, cid)
    body = graphql(tenant).execute(
        "mutation($i: InteractionInput!) { recordInteraction(input: $i) { interaction { id } errors { field code } } }",
        {"i": {"kind": "REFUND", "occurredAt": "2026-02-28T10:00:00Z", "amount": "5",
               "reversesId": to_global_id("Interaction", purchase.id)}})
    assert body["data"]["recordInteraction"] == {"interaction": None, "errors": [{"field": "occurredAt", "code": "INVALID"}]}
    assert _refunded(gx, cid) == Decimal("0.00")


def test_csv_import_reports_refunds_dated_before_their_purchase_by_line(gx, tenant, tmp_path):
    _customer(gx, tenant, code="C1")
    path = tmp_path / "refunds.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_code", "kind", "occurred_at", "amount", "external_id", "reverses_external_id"])
        writer.writerow(["C1", "PURCHASE", "2026-03-02T10:00:00+08:00", "80.00", "o-1", ""])
        writer.writerow(["", "REFUND", "2026-03-01T10:00:00+08:00", "10.00", "r-1", "o-1"])
        writer.writerow(["", "REFUND", "2026-03-04T10:00:00+08:00", "10.00", "r-2", "o-1"])
    report = import_file(gx, tenant, "interactions", path)
    assert (report.rows_stored, report.rows_invalid) == (2, 1)
    line, errors = report.invalid[0]
    assert line == 3 and [e.field for e in errors] == ["occurred_at"]
