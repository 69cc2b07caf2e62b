"""``overview`` through the real app: every figure of both periods, the trend's
buckets and the store, channel and slices equal a plain-Python computation
over the rows the test recorded (a refund, another tenant's purchase, a
purchase at local midnight); bad arguments are refused naming the argument."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from engine.models import Customer
from engine.services.customers import create_customer
from engine.services.interactions import record_interactions

TZ = "Asia/Shanghai"  # UTC+8: local midnight is 16:00 UTC of the day before
FIGURES = """from to customers createdCustomers activeCustomers newCustomers returningCustomers purchases
  grossRevenue refundCount refunds netRevenue averageOrderValue trend { day purchases grossRevenue refunds netRevenue }"""
QUERY = f"""query($from: DateTime!, $to: DateTime!, $store: String, $channel: Channel, $bucket: OverviewBucket,
               $cf: DateTime, $ct: DateTime) {{
  overview(from: $from, to: $to, store: $store, channel: $channel, bucket: $bucket, compareFrom: $cf, compareTo: $ct) {{
    bucket store channel current {{ {FIGURES} }} previous {{ {FIGURES} }}
    byStore {{ key label purchases grossRevenue refunds netRevenue }}
    byChannel {{ key label(lang: EN) purchases netRevenue }} }} }}"""


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(TZ))


@pytest.fixture
def shop(gx, make_tenant):
    """A tenant in Shanghai with three customers and a fortnight of purchases, one refunded,
    and another tenant with a purchase in the same days. Returns what was recorded."""
    slug, other = make_tenant(timezone=TZ), make_tenant(timezone=TZ)
    today = datetime.now(ZoneInfo(TZ)).date()
    start = today - timedelta(days=13)  # the current period: the last 7 local days; the previous: the 7 before
    at = lambda d, h, m=0: datetime.combine(start + timedelta(days=d), time(h, m), tzinfo=ZoneInfo(TZ))  # noqa: E731
    rows = [  # (customer, kind, occurred_at, amount, store, channel, external id, reverses)
        ("A", "PURCHASE", at(1, 10), "100.10", "S1", "IN_STORE", "a1", None),
        ("A", "PURCHASE", at(6, 23, 59), "35.00", "S1", "IN_STORE", "a0", None),  # the previous period's last minute
        ("A", "PURCHASE", at(7, 0), "50.00", "S1", "WECHAT", "a2", None),  # 00:00 local: the UTC date is the day before
        ("B", "PURCHASE", at(8, 12), "80.25", "S2", "WEB", "b1", None),
        ("B", "PURCHASE", at(10, 15), "19.90", "S2", "WEB", "b2", None),
        ("C", "PURCHASE", at(12, 9), "300.00", "S1", "IN_STORE", "c1", None),
        ("C", "REFUND", at(13, 8), "120.00", None, None, "c1r", "c1"),  # no store or channel of its own: the purchase's
        ("A", "VISIT", at(9, 12), None, "S1", "IN_STORE", "a-visit", None),
    ]
    created = {"A": at(0, 9), "B": at(9, 9), "C": at(11, 9), "D": at(12, 9)}  # D never buys
    with gx.tenant(slug) as ctx:
        ids = {code: create_customer(ctx, {"code": code, "name": code, "store": "S1" if code in "AC" else "S2"}).id
               for code in created}
        result = record_interactions(ctx, [_item(ids, *row) for row in rows])
        assert not result.errors, result.errors
        for code, when in created.items():
            ctx.session.execute(sa.update(Customer).where(Customer.id == ids[code]).values(created_at=when))
    with gx.tenant(other) as ctx:
        stranger = create_customer(ctx, {"code": "X", "name": "X", "store": "S1"})
        result = record_interactions(ctx, [_item({"X": stranger.id}, "X", "PURCHASE", at(8, 12), "999.00", "S1", "IN_STORE", "x1", None)])
        assert not result.errors
    return {"slug": slug, "start": start, "rows": rows, "created": created}


def _item(ids, code, kind, when, amount, store, channel, external_id, reverses):
    item = {"kind": kind, "occurred_at": when.isoformat(), "external_id": external_id}
    if reverses:
        item["reverses_external_id"] = reverses
    else:
        item["customer_id"] = ids[code]
    for key, value in (("amount", amount), ("store", store), ("channel", channel)):
        if value is not None:
            item[key] = value
    return item


def expected(shop, since: datetime, until: datetime, store=None, channel=None) -> dict:
    """The figures computed in plain Python from the rows recorded."""
    rows = shop["rows"]
    by_id = {row[6]: row for row in rows}

    def where(row):  # a refund without a store or channel takes its purchase's
        source = by_id[row[7]] if row[1] == "REFUND" else row
        return (row[4] or source[4]), (row[5] or source[5])

    def kept(row, kind):
        s, c = where(row)
        return (row[1] == kind and since <= row[2] < until and (store is None or s == store)
                and (channel is None or c == channel))

    purchases = [r for r in rows if kept(r, "PURCHASE")]
    refunds = [r for r in rows if kept(r, "REFUND")]
    first_purchase = {}
    for r in rows:
        if r[1] == "PURCHASE":
            first_purchase[r[0]] = min(first_purchase.get(r[0], r[2]), r[2])
    buyers = {r[0] for r in purchases}
    gross = sum((Decimal(r[3]) for r in purchases), Decimal("0.00"))
    refunded = sum((Decimal(r[3]) for r in refunds), Decimal("0.00"))
    tz = ZoneInfo(TZ)
    days = defaultdict(lambda: [0, Decimal("0.00"), Decimal("0.00")])
    for r in purchases:
        point = days[r[2].astimezone(tz).date()]
        point[0] += 1
        point[1] += Decimal(r[3])
    for r in refunds:
        days[r[2].astimezone(tz).date()][2] += Decimal(r[3])
    first, last = since.astimezone(tz).date(), (until - timedelta(microseconds=1)).astimezone(tz).date()
    trend = [{"day": (first + timedelta(days=n)).isoformat(), "purchases": days[first + timedelta(days=n)][0],
              "grossRevenue": str(days[first + timedelta(days=n)][1]), "refunds": str(days[first + timedelta(days=n)][2]),
              "netRevenue": str(days[first + timedelta(days=n)][1] - days[first + timedelta(days=n)][2])}
             for n in range((last - first).days + 1)]
    home = {"A": "S1", "B": "S2", "C": "S1", "D": "S2"}
    customers = [c for c, when in shop["created"].items() if when < until and (store is None or home[c] == store)]
    new = {c for c in buyers if first_purchase[c] >= since}
    return {
        "from": since.astimezone(timezone.utc).isoformat(), "to": until.astimezone(timezone.utc).isoformat(),
        "customers": len(customers), "createdCustomers": sum(shop["created"][c] >= since for c in customers),
        "activeCustomers": len(buyers), "newCustomers": len(new), "returningCustomers": len(buyers - new),
        "purchases": len(purchases), "grossRevenue": str(gross), "refundCount": len(refunds), "refunds": str(refunded),
        "netRevenue": str(gross - refunded),
        "averageOrderValue": str((gross / len(purchases)).quantize(Decimal("0.01"))) if purchases else None,
        "trend": trend,
    }


def _utc(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(timezone.utc).isoformat()


def run(graphql, shop, variables, role="VIEWER"):
    body = graphql(shop["slug"], role).execute(QUERY, variables)
    assert "errors" not in body, body
    overview = body["data"]["overview"]
    for part in ("current", "previous"):
        overview[part]["from"], overview[part]["to"] = _utc(overview[part]["from"]), _utc(overview[part]["to"])
    return overview


def test_both_periods_equal_a_plain_python_count_by_local_day(graphql, shop):
    since, until = local_midnight(shop["start"] + timedelta(days=7)), local_midnight(shop["start"] + timedelta(days=14))
    overview = run(graphql, shop, {"from": since.isoformat(), "to": until.isoformat()})
    assert overview["bucket"] == "DAY" and overview["store"] is None and overview["channel"] is None
    assert overview["current"] == expected(shop, since, until)
    assert overview["previous"] == expected(shop, since - timedelta(days=7), since)
    current, previous = overview["current"], overview["previous"]
    # What the rows say, spelled out: A, B and C bought; B and C for the first time, A had bought before;
    # C's 300.00 was refunded 120.00 (the other tenant's 999.00 is not here); D never bought.
    assert (current["activeCustomers"], current["newCustomers"], current["returningCustomers"]) == (3, 2, 1)
    assert (current["grossRevenue"], current["refunds"], current["netRevenue"]) == ("450.15", "120.00", "330.15")
    assert current["averageOrderValue"] == "112.54"  # 450.15 / 4
    assert (current["customers"], current["createdCustomers"]) == (4, 3)  # B, C and D were created in the period
    assert (previous["purchases"], previous["grossRevenue"], previous["customers"]) == (2, "135.10", 1)
    # The purchase at 00:00 local time is in the period and on its local day, not on the UTC date before it;
    # the one at 23:59 the evening before is the previous period's.
    first_day, eve = (shop["start"] + timedelta(days=7)).isoformat(), (shop["start"] + timedelta(days=6)).isoformat()
    assert (current["trend"][0]["day"], current["trend"][0]["purchases"], current["trend"][0]["grossRevenue"]) == (first_day, 1, "50.00")
    assert (previous["trend"][-1]["day"], previous["trend"][-1]["grossRevenue"]) == (eve, "35.00")
    assert len(current["trend"]) == 7 and current["trend"][0]["day"] == (shop["start"] + timedelta(days=7)).isoformat()


def test_a_store_or_a_channel_counts_only_its_purchases_and_refunds(graphql, shop):
    since, until = local_midnight(shop["start"]), local_midnight(shop["start"] + timedelta(days=14))
    for store, channel in (("S1", None), ("S2", None), (None, "IN_STORE"), (None, "WEB"), ("S1", "WECHAT")):
        overview = run(graphql, shop, {"from": since.isoformat(), "to": until.isoformat(), "store": store, "channel": channel})
        assert (overview["store"], overview["channel"]) == (store, channel)
        assert overview["current"] == expected(shop, since, until, store, channel), (store, channel)
    s1 = run(graphql, shop, {"from": since.isoformat(), "to": until.isoformat(), "store": "S1"})["current"]
    # C's refund has no store of its own: it is S1's, where the purchase was.
    assert (s1["grossRevenue"], s1["refunds"], s1["netRevenue"]) == ("485.10", "120.00", "365.10")


def test_slices_by_store_and_channel_ignore_their_own_filter(graphql, shop):
    since, until = local_midnight(shop["start"]), local_midnight(shop["start"] + timedelta(days=14))
    overview = run(graphql, shop, {"from": since.isoformat(), "to": until.isoformat(), "store": "S2"})
    stores = {s["key"]: s for s in overview["byStore"]}
    assert list(stores) == ["S1", "S2"]  # most net revenue first; the chosen store does not hide the others
    for key, slice_ in stores.items():
        figures = expected(shop, since, until, store=key)
        assert (slice_["purchases"], slice_["grossRevenue"], slice_["refunds"], slice_["netRevenue"]) == (
            figures["purchases"], figures["grossRevenue"], figures["refunds"], figures["netRevenue"])
        assert slice_["label"] == key
    channels = {c["key"]: c for c in overview["byChannel"]}  # filtered by store S2: B's web purchases only
    assert channels == {"WEB": {"key": "WEB", "label": "Web", "purchases": 2, "netRevenue": "100.15"}}


def test_weeks_and_months_bucket_local_days_and_an_explicit_comparison(graphql, shop):
    since, until = local_midnight(shop["start"]), local_midnight(shop["start"] + timedelta(days=14))
    before_from, before_to = since - timedelta(days=30), since - timedelta(days=20)
    overview = run(graphql, shop, {"from": since.isoformat(), "to": until.isoformat(), "bucket": "WEEK",
                                   "cf": before_from.isoformat(), "ct": before_to.isoformat()})
    assert overview["bucket"] == "WEEK"
    figures = expected(shop, since, until)
    weeks = defaultdict(Decimal)
    for point in figures["trend"]:
        day = date.fromisoformat(point["day"])
        weeks[day - timedelta(days=day.weekday())] += Decimal(point["netRevenue"])
    assert [(p["day"], Decimal(p["netRevenue"])) for p in overview["current"]["trend"]] == sorted(
        (d.isoformat(), v) for d, v in weeks.items())
    assert all(date.fromisoformat(p["day"]).weekday() == 0 for p in overview["current"]["trend"])
    assert overview["previous"]["from"] == before_from.astimezone(timezone.utc).isoformat()
    assert overview["previous"]["purchases"] == 0
    month = run(graphql, shop, {"from": since.isoformat(), "to": until.isoformat(), "bucket": "MONTH"})["current"]
    assert sum(Decimal(p["netRevenue"]) for p in month["trend"]) == Decimal(figures["netRevenue"])
    assert all(p["day"].endswith("-01") for p in month["trend"])
    # A long period is bucketed by week, then by month, without being asked.
    year = run(graphql, shop, {"from": (until - timedelta(days=365)).isoformat(), "to": until.isoformat()})
    assert year["bucket"] == "WEEK" and year["current"]["netRevenue"] == figures["netRevenue"]


@pytest.mark.parametrize(("variables", "argument", "says"), [
    ({"from": "2025-03-10T00:00:00+08:00", "to": "2025-03-01T00:00:00+08:00"}, "to", "must be after from"),
    ({"from": "2025-03-10T00:00:00+08:00", "to": "2025-03-10T00:00:00+08:00"}, "to", "must be after from"),
    ({"from": "1990-01-01T00:00:00Z", "to": "2090-01-01T00:00:00Z"}, "to", "at most 3660 days"),
    ({"from": "2025-03-01T00:00:00", "to": "2025-03-10T00:00:00Z"}, "from", "UTC offset"),
    ({"from": "2025-03-01T00:00:00Z", "to": "2025-03-10T00:00:00Z", "cf": "2025-02-01T00:00:00Z"}, "compareTo", "give both"),
    ({"from": "2025-03-01T00:00:00Z", "to": "2025-03-10T00:00:00Z", "cf": "2025-02-10T00:00:00Z",
      "ct": "2025-02-01T00:00:00Z"}, "compareTo", "must be after compareFrom"),
    ({"from": "2020-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z", "bucket": "DAY"}, "bucket", "at most 400"),
    ({"from": "2025-03-01T00:00:00Z", "to": "2025-03-10T00:00:00Z", "store": " "}, "store", "1 to 64 characters"),
])
def test_bad_arguments_are_refused_naming_the_argument(graphql, make_tenant, variables, argument, says):
    body = graphql(make_tenant(), "VIEWER").execute(QUERY, variables)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INVALID"
    assert error["message"].startswith(f"{argument}: ") and says in error["message"], error["message"]


def test_a_channel_that_does_not_exist_is_a_bad_input(graphql, make_tenant):
    response = graphql(make_tenant(), "VIEWER").post(QUERY, {"from": "2025-03-01T00:00:00Z", "to": "2025-03-10T00:00:00Z",
                                                             "channel": "PIGEON"})
    [error] = response.json()["errors"]
    assert response.status_code == 400 and error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "$channel" in error["message"] and "PIGEON" in error["message"]


def test_an_empty_tenant_has_zeros_and_no_average(graphql, make_tenant):
    body = graphql(make_tenant(), "VIEWER").execute(
        "{ overview(from: \"2025-03-01T00:00:00+08:00\", to: \"2025-03-04T00:00:00+08:00\") "
        "{ current { customers purchases netRevenue averageOrderValue trend { day netRevenue } } byStore { key } } }")
    overview = body["data"]["overview"]
    assert overview["current"] == {"customers": 0, "purchases": 0, "netRevenue": "0.00", "averageOrderValue": None, "trend": [
        {"day": "2025-03-01", "netRevenue": "0.00"}, {"day": "2025-03-02", "netRevenue": "0.00"},
        {"day": "2025-03-03", "netRevenue": "0.00"}]}
    assert overview["byStore"] == []
