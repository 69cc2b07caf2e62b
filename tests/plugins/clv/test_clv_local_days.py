"""Calendar days are the tenant's local days, whatever its time zone does.

The CDNOW sample, with the same local purchase dates, in three tenants: UTC,
Australia/Sydney (daylight-saving time from late October to late March) and
America/New_York (April to October). Applying the as-of date's UTC offset to
the whole history moved every purchase on the other side of a change to the
day before; the stored local days do not move.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlmodel import select

from engine.models import Customer
from plugins.clv.models import ClvRun, ClvScore
from tests.plugins.clv.test_clv_plugin import DATA, load, score

ZONES = ("UTC", "Australia/Sydney", "America/New_York")


def cdnow_purchases():
    raw = np.loadtxt(DATA / "CDNOW_sample.txt", dtype=str)
    return [(f"cd{row[1]}", f"{row[2][:4]}-{row[2][4:6]}-{row[2][6:]}", float(row[4])) for row in raw]


def local_midnight(day: date, zone: str) -> datetime:
    # half a second late: a purchase at exactly as_of counts, whatever the database's time precision
    return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).astimezone(timezone.utc) + timedelta(
        milliseconds=500)


def by_code(gx, tenant):
    with gx.tenant(tenant, write=False) as ctx:
        [run] = ctx.session.exec(select(ClvRun).where(ClvRun.tenant_id == ctx.tenant_id)).all()
        rows = ctx.session.exec(
            select(Customer.code, ClvScore).join(ClvScore, ClvScore.customer_id == Customer.id)
            .where(ClvScore.tenant_id == ctx.tenant_id)).all()
    return run, {code: s for code, s in rows}


@pytest.fixture(scope="module")
def tenants(gx, tmp_path_factory):
    from engine.services.modules import set_enabled
    from engine.services.tenants import create_tenant
    from tests.conftest import unique_slug

    purchases = cdnow_purchases()
    slugs = {}
    for zone in ZONES:
        slug = unique_slug("clv-tz")
        with gx.system() as session:
            tenant = create_tenant(session, slug, f"CDNOW {zone}", "USD", zone, "en", actor="test")
            set_enabled(session, gx.plugins, tenant.id, "clv", True, actor="test")
        load(gx, slug, tmp_path_factory.mktemp("cdnow"), purchases)
        slugs[zone] = slug
    return slugs


def test_cdnow_in_three_time_zones_gives_identical_summaries_fits_and_predictions(gx, tenants):
    """39 weeks from 1997-01-01, the published calibration period, in each tenant's own midnight."""
    results = {}
    for zone, slug in tenants.items():
        score(gx, slug, as_of=local_midnight(date(1997, 9, 30), zone), unit="WEEK")
        results[zone] = by_code(gx, slug)
    utc_run, utc_scores = results["UTC"]
    assert len(utc_scores) == 2357
    for name, value in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert round(utc_run.parameters[name]["value"], 3) == value  # the published fit
    for zone in ("Australia/Sydney", "America/New_York"):
        run, scores = results[zone]
        assert scores.keys() == utc_scores.keys()
        for code, expected in utc_scores.items():
            got = scores[code]
            assert (got.frequency, got.recency, got.T) == (expected.frequency, expected.recency, expected.T), code
            assert got.probability_alive == pytest.approx(expected.probability_alive, rel=1e-9, abs=1e-12), code
        for name, p in utc_run.parameters.items():
            assert run.parameters[name]["value"] == pytest.approx(p["value"], rel=1e-9), (zone, name)
        assert run.log_likelihood == pytest.approx(utc_run.log_likelihood, rel=1e-12)


def test_new_york_as_of_new_year_counts_days_across_daylight_saving_time(gx, tenants):
    """Every customer's frequency, recency and T in days, against plain date arithmetic
    on the file's dates. Customers whose purchases straddle a change (recency
    180 instead of 181 for 1 January -> 1 July with the old offset) are among them."""
    slug = tenants["America/New_York"]
    as_of_day = date(1998, 1, 1)
    score(gx, slug, as_of=local_midnight(as_of_day, "America/New_York"), unit="DAY")
    _, scores = by_code(gx, slug)
    # as_of is stored in whole seconds, so T is a whole number of days here
    days: dict[str, set[date]] = {}
    for code, day, _ in cdnow_purchases():
        if date.fromisoformat(day) <= as_of_day:  # at local midnight: the as-of day's purchases count
            days.setdefault(code, set()).add(date.fromisoformat(day))
    straddling = 0
    for code, dates in days.items():
        first, last = min(dates), max(dates)
        expected = (len(dates) - 1, float((last - first).days), float((as_of_day - first).days))  # as_of is in whole seconds
        got = scores[code]
        assert (got.frequency, got.recency) == expected[:2], code
        assert got.T == pytest.approx(expected[2], abs=1e-9), code
        dst = ZoneInfo("America/New_York")
        offset = lambda d: datetime(d.year, d.month, d.day, tzinfo=dst).utcoffset()  # noqa: E731
        straddling += offset(first) != offset(last)
    assert straddling > 300  # the old offset got each of these customers' recency wrong by a day
