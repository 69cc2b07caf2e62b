"""Churn reasons: only on lapsed or churned customers, tenant codes, the report by reason, store and staff, erasure."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from engine.errors import NotFound, ValidationFailed
from engine.services.customers import create_customer, erase_customer
from engine.services.interactions import record_interactions
from engine.services.modules import configure
from engine.types import utcnow
from plugins.lifecycle.history import run_stages
from plugins.lifecycle.reasons import reason_report, record_reason
from plugins.lifecycle.settings import DEFAULT_CHURN_REASONS

FIXED = {"at_risk_days": 10, "lapsed_days": 20, "churned_days": 40}


def _setup(gx, make_tenant, extra_reasons=()):
    slug = make_tenant(modules=("lifecycle",))
    settings = dict(FIXED)
    if extra_reasons:
        settings["churn_reasons"] = [r.model_dump() for r in DEFAULT_CHURN_REASONS] + list(extra_reasons)
    now = utcnow()
    ids = {}
    with gx.tenant(slug) as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "lifecycle", settings)
        for name, days, store, staff in (("lapsed", 25, "SH", "wang"), ("churned", 60, "BJ", "li"),
                                         ("churned2", 90, "BJ", "li"), ("active", 2, "SH", "wang")):
            cid = create_customer(ctx, {"name": name, "store": "HOME", "owner": "owner-1"}).id
            record_interactions(ctx, [{"customer_id": cid, "kind": "PURCHASE", "amount": "10", "store": store, "staff": staff,
                                       "occurred_at": now - timedelta(days=days)}])
            ids[name] = cid
        ids["prospect"] = create_customer(ctx, {"name": "p"}).id
    with gx.tenant(slug) as ctx:
        run_stages(ctx)
    return slug, ids


def test_reasons_are_recorded_on_lapsed_and_churned_customers_only(gx, make_tenant):
    slug, ids = _setup(gx, make_tenant)
    with gx.tenant(slug, actor="agent-7") as ctx:
        reason = record_reason(ctx, ids["lapsed"], "competitor", note="换到别家了")
        assert (reason.code, reason.stage, reason.store, reason.staff, reason.recorded_by) == (
            "COMPETITOR", "lapsed", "SH", "wang", "agent-7")
    for who in ("active", "prospect"):
        with gx.tenant(slug) as ctx, pytest.raises(ValidationFailed) as refused:
            record_reason(ctx, ids[who], "SERVICE")
        assert [e.field for e in refused.value.errors] == ["customer_id"]
        assert "lapsed or churned" in refused.value.errors[0].message
    with gx.tenant(slug) as ctx, pytest.raises(ValidationFailed) as refused:
        record_reason(ctx, ids["churned"], "NO_SUCH_CODE", note="x" * 2001)
    assert sorted(e.field for e in refused.value.errors) == ["code", "note"]
    with gx.tenant(slug) as ctx, pytest.raises(NotFound):
        record_reason(ctx, 10**9, "SERVICE")


def test_a_tenant_adds_its_own_reason_codes(gx, make_tenant):
    slug, ids = _setup(gx, make_tenant, [{"code": "MOVED_CITY", "zh": "搬离城市", "en": "Moved city", "side": "CUSTOMER"}])
    other, other_ids = _setup(gx, make_tenant)
    with gx.tenant(slug) as ctx:
        assert record_reason(ctx, ids["churned"], "MOVED_CITY").code == "MOVED_CITY"
    with gx.tenant(other) as ctx, pytest.raises(ValidationFailed):
        record_reason(ctx, other_ids["churned"], "MOVED_CITY")


def test_the_report_counts_by_reason_side_store_and_staff(gx, make_tenant):
    slug, ids = _setup(gx, make_tenant)
    recorded = [("lapsed", "COMPETITOR", None), ("churned", "SERVICE", None), ("churned2", "SERVICE", None),
                ("churned2", "STAFF_LEFT", "GZ")]
    with gx.tenant(slug) as ctx:
        for who, code, store in recorded:
            record_reason(ctx, ids[who], code, store=store)
    with gx.tenant(slug, write=False) as ctx:
        report = reason_report(ctx)
        empty = reason_report(ctx, utcnow() + timedelta(days=1), utcnow() + timedelta(days=2))
    assert report.total == 4 and empty.total == 0
    assert dict(report.by_reason) == {"SERVICE": 2, "COMPETITOR": 1, "STAFF_LEFT": 1}
    assert dict(report.by_side) == {"COMPANY": 3, "CUSTOMER": 1}
    # Filed under the last purchase's store and staff unless given.
    assert dict(report.by_store) == dict(Counter(["SH", "BJ", "BJ", "GZ"]))
    assert dict(report.by_staff) == {"li": 3, "wang": 1}
    assert ("BJ", "SERVICE", 2) in report.by_store_reason
    with gx.tenant(slug, write=False) as ctx, pytest.raises(ValidationFailed):
        reason_report(ctx, utcnow(), utcnow() - timedelta(days=1))


def test_erasure_clears_the_note_and_keeps_the_count(gx, make_tenant):
    from plugins.lifecycle.models import LifecycleChurnReason

    slug, ids = _setup(gx, make_tenant)
    with gx.tenant(slug) as ctx:
        reason_id = record_reason(ctx, ids["churned"], "OBJECTIVE", note="搬去深圳了, 电话 13800000000").id
    with gx.tenant(slug) as ctx:
        erase_customer(ctx, ids["churned"])
    with gx.tenant(slug, write=False) as ctx:
        row = ctx.session.get(LifecycleChurnReason, reason_id)
        assert row.note is None and row.code == "OBJECTIVE"
        assert reason_report(ctx).total == 1
