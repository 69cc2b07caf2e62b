"""Invitations: consent per channel, the quiet period, sampled purchases,
periodic waves to a segment (as a job), and the delivery hook."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from engine import hookimpl
from engine.errors import ValidationFailed
from engine.plugins import GlobalPlugin, PluginManager
from engine.runtime import Guanxi
from engine.services.customers import create_customer
from engine.services.interactions import record_interaction
from engine.services.modules import configure
from engine.testing import FakeClock
from engine.worker import Worker
from plugins.satisfaction.invitations import invite, sampled
from plugins.satisfaction.models import SatisfactionInvitation
from plugins.satisfaction.surveys import archive_survey, create_survey

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=timezone.utc)


def _customers(ctx, consents: list[dict]) -> list[int]:
    return [create_customer(ctx, {"code": f"C{n}", "name": f"顾客{n}", "consent": c}).id for n, c in enumerate(consents)]


def _survey(ctx, code: str = "CSI"):
    return create_survey(ctx, {"code": code, "title_zh": "调查", "title_en": "Survey", "model": "FOUR_DIMENSION"})


def test_the_first_consented_channel_carries_the_link_and_no_consent_means_no_invitation(gx, make_tenant):
    slug = make_tenant(modules=("satisfaction",))
    with gx.tenant(slug) as ctx:
        configure(ctx.session, ctx.plugins, ctx.tenant_id, "satisfaction", {"invitation_channels": ["SMS", "WECHAT"]})
        ctx.forget_modules()
        wechat, both, none, phone_only = _customers(ctx, [{"WECHAT": True}, {"WECHAT": True, "SMS": True}, {},
                                                          {"PHONE": True, "SMS": False}])
        result = invite(ctx, _survey(ctx).id, [wechat, both, none, phone_only, 999_999], "CAMPAIGN", "SPRING")
    assert {(l.customer_id, l.channel) for l in result.links} == {(wechat, "WECHAT"), (both, "SMS")}
    assert result.no_consent == [none, phone_only] and result.unknown == [999_999]
    assert all(l.path.startswith(f"/satisfaction/s/{slug}/") and l.expires_at - datetime.now(timezone.utc) > timedelta(days=13)
               for l in result.links)


def test_the_quiet_period_holds_for_sampled_triggers_not_for_campaigns(gx, make_tenant):
    slug = make_tenant(modules=("satisfaction",))
    with gx.tenant(slug) as ctx:
        [customer] = _customers(ctx, [{"WECHAT": True}])
        survey = _survey(ctx)
        assert len(invite(ctx, survey.id, [customer], "WAVE", now=NOW - timedelta(days=30)).links) == 1
        assert invite(ctx, survey.id, [customer], "WAVE", now=NOW).quiet == [customer]  # 30 < 90 days
        assert len(invite(ctx, survey.id, [customer], "CAMPAIGN", now=NOW).links) == 1
        assert len(invite(ctx, survey.id, [customer], "WAVE", now=NOW + timedelta(days=91)).links) == 1


def test_an_archived_survey_and_a_bad_source_are_refused(gx, make_tenant):
    slug = make_tenant(modules=("satisfaction",))
    with gx.tenant(slug) as ctx:
        [customer] = _customers(ctx, [{"WECHAT": True}])
        survey = _survey(ctx)
        with pytest.raises(ValidationFailed) as failed:
            invite(ctx, survey.id, [customer], "MANUAL")
        assert failed.value.errors[0].field == "source"
        archive_survey(ctx, survey.id)
        with pytest.raises(ValidationFailed, match="archived"):
            invite(ctx, survey.id, [customer])


def test_fresh_purchases_are_sampled_and_history_is_not(gx, make_tenant):
    slug = make_tenant(modules=("satisfaction",))
    with gx.tenant(slug) as ctx:
        _survey(ctx, "AFTER_BUY")
        configure(ctx.session, ctx.plugins, ctx.tenant_id, "satisfaction",
                  {"purchase_survey": "AFTER_BUY", "purchase_sampling_rate": 0.5, "quiet_period_days": 0})
        ctx.forget_modules()
        ids = _customers(ctx, [{"WECHAT": True}] * 40)
        now = datetime.now(timezone.utc)
        recorded = [record_interaction(ctx, {"customer_id": c, "kind": "PURCHASE", "occurred_at": now - timedelta(hours=1),
                                             "amount": "100.00", "store": "SH-01", "staff": "s1"})[0] for c in ids]
        for c in ids[:5]:  # a year-old purchase being imported gets no survey
            record_interaction(ctx, {"customer_id": c, "kind": "PURCHASE", "occurred_at": now - timedelta(days=365), "amount": "5.00"})
        rows = ctx.session.execute(select(SatisfactionInvitation)).scalars().all()
    expected = {r.customer_id for r in recorded if sampled(ctx.tenant_id, r.id, 0.5)}
    assert {row.customer_id for row in rows} == expected and 8 <= len(expected) <= 32
    assert all(row.source == "PURCHASE" and row.store == "SH-01" and row.staff == "s1" for row in rows)


class Outbox:
    """A delivery plugin: keeps the links it is handed (the only copy of the tokens)."""

    def __init__(self):
        self.links = []

    @hookimpl
    def guanxi_module(self):
        return GlobalPlugin(name="test-outbox")

    @hookimpl
    def guanxi_satisfaction_invited(self, ctx, links):
        self.links.extend(links)


def test_the_wave_job_invites_a_sample_of_the_segment_once_per_period(gx, make_tenant):
    slug = make_tenant(modules=("satisfaction",))
    with gx.tenant(slug) as ctx:
        _survey(ctx, "WAVE_Q")
        configure(ctx.session, ctx.plugins, ctx.tenant_id, "satisfaction",
                  {"wave_survey": "WAVE_Q", "wave_size": 3, "wave_every_days": 30})
        _customers(ctx, [{"WECHAT": True}] * 5)
    outbox, plugins = Outbox(), PluginManager()
    plugins.load_default_plugins()
    plugins.register_module(outbox, name="test-outbox")
    plugins.check()
    clock = FakeClock(datetime.now(timezone.utc))
    worker = Worker(Guanxi(settings=gx.settings, plugins=plugins), clock=clock, tenants=[slug])
    worker.run_once()
    first = list(outbox.links)
    clock.advance(days=2)
    worker.run_once()  # due by the job's schedule, not by wave_every_days: nothing new
    assert len(outbox.links) == 3
    with gx.tenant(slug, write=False) as ctx:
        rows = ctx.session.execute(select(SatisfactionInvitation)).scalars().all()
    assert len(first) == 3 and {r.source for r in rows} == {"WAVE"} and len(rows) == 3
    assert {l.path.rsplit("/", 1)[1] for l in first}.isdisjoint({r.token_hash for r in rows})


def test_a_missing_purchase_survey_never_refuses_the_purchase(gx, make_tenant):
    slug = make_tenant(modules=("satisfaction",))
    with gx.tenant(slug) as ctx:
        configure(ctx.session, ctx.plugins, ctx.tenant_id, "satisfaction", {"purchase_survey": "GONE", "purchase_sampling_rate": 1.0})
        ctx.forget_modules()
        [customer] = _customers(ctx, [{"WECHAT": True}])
        recorded, _ = record_interaction(ctx, {"customer_id": customer, "kind": "PURCHASE", "amount": "9.90",
                                               "occurred_at": datetime.now(timezone.utc)})
        assert recorded.id is not None
        assert ctx.session.execute(select(SatisfactionInvitation)).first() is None


@pytest.mark.parametrize("settings, field", [
    ({"invitation_channels": ["PHONE"]}, "invitation_channels"),
    ({"invitation_channels": ["CARRIER_PIGEON"]}, "invitation_channels"),
    ({"purchase_sampling_rate": 1.5}, "purchase_sampling_rate"),
    ({"complaint_survey": "lower case"}, "complaint_survey"),
    ({"dimension_weights": {"PRODUCT": -1}}, "dimension_weights"),
    ({"driver_target": "NPS"}, "driver_target"),
])
def test_settings_errors_name_the_setting(gx, make_tenant, settings, field):
    slug = make_tenant(modules=("satisfaction",))
    with gx.tenant(slug) as ctx, pytest.raises(ValidationFailed) as failed:
        configure(ctx.session, ctx.plugins, ctx.tenant_id, "satisfaction", settings)
    assert failed.value.errors[0].field == f"settings.{field}"
