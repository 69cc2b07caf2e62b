"""Birthday care through Guanxi's API, with Guanxi's test kit: the fixtures
``gx``, ``make_tenant`` and ``graphql`` (engine/testing.py, loaded by pytest
because Guanxi is installed). Every test runs on SQLite, and on PostgreSQL
too when GUANXI_TEST_DATABASE_URL is set; each makes its own tenants.

Birthdays are set relative to today in the tenant's time zone, so the tests
hold whatever the date.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from engine.migrations import differences
from guanxi_birthdays.plugin import guanxi_jobs
from guanxi_birthdays.service import local_today, next_birthday

MODULE = "birthdays"
TIMEZONE = "Asia/Shanghai"  # make_tenant's default

CREATE_CUSTOMER = """mutation($input: CreateCustomerInput!) {
  createCustomer(input: $input) { customer { id } errors { field message } } }"""
CONFIGURE = """mutation($settings: JSON!) {
  configureModule(input: {name: "birthdays", settings: $settings}) { errors { field message } } }"""
GREETING = "id channel { code } message status statusLabel(lang: ZH) birthday sentBy respondedAt"
CUSTOMER = "query($id: ID!) { customer(id: $id) { birthdayNext birthdayGreeting { " + GREETING + " } } }"
UPCOMING = """query($days: Int) { birthdaysUpcoming(days: $days) {
  edges { node { name birthday daysUntil greeting { channel { code label(lang: EN) } status } } } } }"""
MARK_SENT = """mutation($input: MarkBirthdayGreetingSentInput!) {
  markBirthdayGreetingSent(input: $input) { greeting { status statusLabel(lang: ZH) channel { code } sentAt sentBy }
                                            errors { field message code } } }"""
RECORD = """mutation($input: InteractionInput!) { recordInteraction(input: $input) { errors { field message } } }"""
ERASE = """mutation($id: ID!) { eraseCustomer(input: {id: $id}) { errors { field message } } }"""
MERGE = """mutation($keep: ID!, $merge: ID!) { mergeCustomers(input: {keep: $keep, merge: $merge}) { errors { field message } } }"""


def data(body: dict) -> dict:
    assert "errors" not in body, body["errors"]
    return body["data"]


def today() -> date:
    return local_today(TIMEZONE)


def born_in(days: int) -> str:
    """A birthday ``days`` from today, in 1992 (a leap year: 29 February exists)."""
    return (today() + timedelta(days=days)).replace(year=1992).isoformat()


def create_customer(client, name: str, birthday: str | None = None, consent: dict | None = None) -> str:
    values = {"name": name, "birthday": birthday, "consent": consent}
    result = data(client.execute(CREATE_CUSTOMER, {"input": {k: v for k, v in values.items() if v is not None}}))
    assert result["createCustomer"]["errors"] == []
    return result["createCustomer"]["customer"]["id"]


def customer(client, customer_id: str) -> dict:
    return data(client.execute(CUSTOMER, {"id": customer_id}))["customer"]


def greeting(client, customer_id: str) -> dict | None:
    return customer(client, customer_id)["birthdayGreeting"]


def configure(client, settings: dict) -> list[dict]:
    return data(client.execute(CONFIGURE, {"settings": settings}))["configureModule"]["errors"]


def mark_sent(client, greeting_id: str, **fields) -> dict:
    return data(client.execute(MARK_SENT, {"input": {"greetingId": greeting_id, **fields}}))["markBirthdayGreetingSent"]


def run_job(gx, slug: str) -> str:
    job = {job.name: job for job in guanxi_jobs()}["birthdays.queue_greetings"]
    with gx.tenant(slug) as ctx:  # one transaction, as the scheduler runs it
        return job.run(ctx)


def set_module(client, on: bool) -> None:
    mutation = "enableModule" if on else "disableModule"
    query = "mutation($input: ModuleNameInput!) { " + mutation + "(input: $input) { errors { field message } } }"
    assert data(client.execute(query, {"input": {"name": MODULE}}))[mutation]["errors"] == []


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


@pytest.fixture
def shop(make_tenant) -> str:
    """A tenant with birthday care on (days_ahead 7, WeChat then SMS)."""
    return make_tenant(modules=(MODULE,))


def test_the_next_birthday_counts_today_and_keeps_29_february_on_the_28th():
    assert next_birthday(date(1990, 5, 3), date(2026, 5, 3)) == date(2026, 5, 3)
    assert next_birthday(date(1990, 5, 3), date(2026, 5, 4)) == date(2027, 5, 3)
    assert next_birthday(date(1990, 1, 2), date(2026, 12, 30)) == date(2027, 1, 2)
    assert next_birthday(date(1992, 2, 29), date(2026, 1, 10)) == date(2026, 2, 28)
    assert next_birthday(date(1992, 2, 29), date(2028, 2, 1)) == date(2028, 2, 29)


# -- the job ---------------------------------------------------------------------------


def test_the_daily_job_queues_one_greeting_per_birthday_on_the_first_consented_channel(shop, graphql, gx):
    client = graphql(shop)
    wang = create_customer(client, "王芳", born_in(3), {"SMS": True, "WECHAT": True})
    li = create_customer(client, "李娜", born_in(7), {"SMS": True})
    today_ = create_customer(client, "周杰", born_in(0), {"WECHAT": True})
    left_out = [
        create_customer(client, "赵敏", born_in(8), {"WECHAT": True}),  # beyond days_ahead
        create_customer(client, "陈静", born_in(2)),  # consented to nothing
        create_customer(client, "刘洋", born_in(2), {"WECHAT": False, "SMS": False}),
        create_customer(client, "孙丽", None, {"WECHAT": True}),  # no birthday
    ]

    assert run_job(gx, shop) == "3 greetings queued"
    assert run_job(gx, shop) == "0 greetings queued"  # safe to run twice
    queued = {who: greeting(client, who) for who in (wang, li, today_)}
    assert {who: (g["channel"]["code"], g["status"], g["statusLabel"]) for who, g in queued.items()} == {
        wang: ("WECHAT", "QUEUED", "待发送"), li: ("SMS", "QUEUED", "待发送"), today_: ("WECHAT", "QUEUED", "待发送")}
    assert queued[wang]["message"] == f"王芳，生日快乐！🎂 Tenant {shop} 为您准备了生日礼遇，生日当月到店即可领取。"
    assert queued[li]["message"] == f"【Tenant {shop}】李娜，祝您生日快乐！生日当月到店可领取专属礼遇。"
    assert queued[wang]["birthday"] == (today() + timedelta(days=3)).isoformat()
    assert [greeting(client, who) for who in left_out] == [None] * 4


def test_the_job_follows_the_tenants_settings(shop, graphql, gx):
    client = graphql(shop)
    assert configure(client, {"days_ahead": 0, "greetings": [{"channel": "email", "template": "Happy birthday, {name}! {shop}"}]}) == []
    on_the_day = create_customer(client, "Amy", born_in(0), {"EMAIL": True, "WECHAT": True})
    tomorrow = create_customer(client, "Ben", born_in(1), {"EMAIL": True})
    wechat_only = create_customer(client, "Cat", born_in(0), {"WECHAT": True})
    assert run_job(gx, shop) == "1 greetings queued"
    assert greeting(client, on_the_day)["message"] == f"Happy birthday, Amy! Tenant {shop}"
    assert greeting(client, tomorrow) is None and greeting(client, wechat_only) is None


# -- GraphQL: the Customer fields, the query, the mutation --------------------------------


def test_birthday_next_is_the_coming_birthday_in_the_tenants_time_zone(shop, graphql):
    client = graphql(shop)
    soon, passed, unknown = (create_customer(client, "王芳", born_in(3)), create_customer(client, "李娜", born_in(-1)),
                             create_customer(client, "周杰"))
    assert customer(client, soon)["birthdayNext"] == (today() + timedelta(days=3)).isoformat()
    assert customer(client, passed)["birthdayNext"] == next_birthday(today() - timedelta(days=1), today()).isoformat()
    assert customer(client, unknown) == {"birthdayNext": None, "birthdayGreeting": None}
    page = data(client.execute("{ customers(first: 10) { edges { node { id birthdayNext } } } }"))["customers"]["edges"]
    assert {edge["node"]["id"]: edge["node"]["birthdayNext"] for edge in page} == {
        who: customer(client, who)["birthdayNext"] for who in (soon, passed, unknown)}


def test_birthdays_upcoming_lists_the_soonest_first_with_their_greeting(shop, graphql, gx):
    client = graphql(shop)
    create_customer(client, "五天", born_in(5), {"WECHAT": True})
    create_customer(client, "明天", born_in(1))
    create_customer(client, "二十天", born_in(20), {"WECHAT": True})
    create_customer(client, "昨天", born_in(-1))
    run_job(gx, shop)

    default = [e["node"] for e in data(client.execute(UPCOMING))["birthdaysUpcoming"]["edges"]]  # days_ahead: 7
    assert [(u["name"], u["daysUntil"]) for u in default] == [("明天", 1), ("五天", 5)]
    assert [u["greeting"] for u in default] == [None, {"channel": {"code": "WECHAT", "label": "WeChat"}, "status": "QUEUED"}]
    assert default[0]["birthday"] == (today() + timedelta(days=1)).isoformat()
    month = [e["node"] for e in data(client.execute(UPCOMING, {"days": 30}))["birthdaysUpcoming"]["edges"]]
    assert [u["name"] for u in month] == ["明天", "五天", "二十天"]
    pages = """query($before: String) { birthdaysUpcoming(days: 30, last: 2, before: $before) {
      edges { node { name customer { name } } } pageInfo { hasPreviousPage startCursor } } }"""
    tail = data(client.execute(pages))["birthdaysUpcoming"]
    assert [e["node"]["name"] for e in tail["edges"]] == ["五天", "二十天"] and tail["pageInfo"]["hasPreviousPage"]
    assert [e["node"]["customer"]["name"] for e in tail["edges"]] == ["五天", "二十天"]
    head = data(client.execute(pages, {"before": tail["pageInfo"]["startCursor"]}))["birthdaysUpcoming"]
    assert [e["node"]["name"] for e in head["edges"]] == ["明天"] and not head["pageInfo"]["hasPreviousPage"]
    refused = client.execute(UPCOMING, {"days": 400})
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert refused["errors"][0]["message"].startswith("days: must be between 0 and 366")


def test_marking_a_greeting_sent(shop, graphql, gx):
    client = graphql(shop, "AGENT")
    who = create_customer(client, "王芳", born_in(2), {"WECHAT": True, "SMS": True})
    run_job(gx, shop)
    queued = greeting(client, who)

    sent = mark_sent(client, queued["id"], channel="SMS")
    assert sent["errors"] == []
    assert (sent["greeting"]["status"], sent["greeting"]["statusLabel"], sent["greeting"]["channel"]["code"]) == ("SENT", "已发送", "SMS")
    assert sent["greeting"]["sentBy"].startswith("api-key:")
    trail = data(graphql(shop).execute('{ auditEvents(action: "birthdays.mark_sent") { edges { node { actor } } } }'))
    assert [edge["node"]["actor"] for edge in trail["auditEvents"]["edges"]] == [sent["greeting"]["sentBy"]]  # who did it, not what was written
    again = mark_sent(client, queued["id"])
    assert [(e["field"], e["code"]) for e in again["errors"]] == [("greetingId", "CONFLICT")]
    assert again["greeting"] is None


def test_bad_input_to_mark_sent_comes_back_in_errors_naming_the_field(shop, graphql, gx):
    client = graphql(shop)
    who = create_customer(client, "王芳", born_in(2), {"WECHAT": True})
    run_job(gx, shop)
    greeting_id = greeting(client, who)["id"]
    cases = [
        (who, {}, "greetingId", "NOT_FOUND"),  # a customer's id, not a greeting's
        (greeting_id, {"channel": "SMS"}, "channel", "INVALID"),  # no consent to SMS
        (greeting_id, {"sentAt": iso(datetime.now(timezone.utc) + timedelta(days=1))}, "sentAt", "INVALID"),
    ]
    for target, fields, field, code in cases:
        result = mark_sent(client, target, **fields)
        assert [(e["field"], e["code"]) for e in result["errors"]] == [(field, code)], fields
    assert "not consented to SMS" in mark_sent(client, greeting_id, channel="SMS")["errors"][0]["message"]
    unknown = graphql(shop).post(MARK_SENT, {"input": {"greetingId": greeting_id, "channel": "FAX"}})  # not a Channel code
    assert unknown.status_code == 400 and "'FAX' does not exist in 'Channel' enum" in unknown.json()["errors"][0]["message"]
    assert greeting(client, who)["status"] == "QUEUED"  # nothing was written


@pytest.mark.parametrize("role", ["VIEWER", "ANALYST"])
def test_readers_may_not_mark_greetings_sent(shop, graphql, gx, role):
    admin, reader = graphql(shop), graphql(shop, role)
    who = create_customer(admin, "王芳", born_in(2), {"WECHAT": True})
    run_job(gx, shop)
    body = reader.execute(MARK_SENT, {"input": {"greetingId": greeting(reader, who)["id"]}})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert greeting(reader, who)["status"] == "QUEUED"


# -- the interaction hook ------------------------------------------------------------------


def test_a_visit_soon_after_the_greeting_is_its_response(shop, graphql, gx):
    client = graphql(shop)
    who = create_customer(client, "王芳", born_in(2), {"WECHAT": True})
    run_job(gx, shop)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    assert mark_sent(client, greeting(client, who)["id"], sentAt=iso(now - timedelta(hours=2)))["errors"] == []

    def visit(at: datetime) -> None:
        item = {"customerId": who, "kind": "VISIT", "occurredAt": iso(at), "store": "SH-01"}
        assert data(client.execute(RECORD, {"input": item}))["recordInteraction"]["errors"] == []

    visit(now - timedelta(hours=3))  # before the greeting went out: not a response
    assert greeting(client, who)["respondedAt"] is None
    visit(now - timedelta(hours=1))
    assert datetime.fromisoformat(greeting(client, who)["respondedAt"]) == now - timedelta(hours=1)


# -- erasure -------------------------------------------------------------------------------


@pytest.mark.parametrize("module_on", [True, False], ids=["module-on", "module-off"])
def test_erasure_clears_the_greeting_text_and_drops_what_is_still_queued(shop, graphql, gx, module_on):
    client = graphql(shop)
    sent, queued, kept = (create_customer(client, name, born_in(2), {"WECHAT": True}) for name in ("王芳", "李娜", "周杰"))
    run_job(gx, shop)
    assert mark_sent(client, greeting(client, sent)["id"])["errors"] == []
    if not module_on:  # a tenant that switched the module off keeps its rows: erasure reaches them too
        set_module(client, on=False)
    for who in (sent, queued):
        assert data(client.execute(ERASE, {"id": who}))["eraseCustomer"]["errors"] == []
    if not module_on:  # and switching it back on does not bring the person back
        set_module(client, on=True)

    erased = greeting(client, sent)
    assert (erased["message"], erased["birthday"], erased["status"]) == (None, None, "SENT")  # the fact it was sent stays
    assert greeting(client, queued) is None  # never to be sent to an erased person
    assert greeting(client, kept)["message"].startswith("周杰，生日快乐")
    assert run_job(gx, shop) == "0 greetings queued"  # erased customers have no birthday any more


# -- merging -------------------------------------------------------------------------------


def test_merging_customers_keeps_one_greeting_per_birthday(shop, graphql, gx):
    """guanxi_customers_merged: a greeting moves to the kept customer, unless it has its own for that birthday."""
    client = graphql(shop)
    no_birthday = create_customer(client, "王芳")
    with_birthday = create_customer(client, "Wang Fang", born_in(2), {"WECHAT": True})
    both = [create_customer(client, name, born_in(3), {"WECHAT": True}) for name in ("李娜", "Li Na")]
    run_job(gx, shop)
    moved = greeting(client, with_birthday)["id"]
    own = greeting(client, both[0])["id"]
    for keep, merge in ((no_birthday, with_birthday), (both[0], both[1])):
        assert data(client.execute(MERGE, {"keep": keep, "merge": merge}))["mergeCustomers"]["errors"] == []
    assert greeting(client, no_birthday)["id"] == moved  # and the birthday came with it
    assert greeting(client, both[0])["id"] == own  # the other's greeting for the same birthday is dropped
    assert run_job(gx, shop) == "0 greetings queued"


# -- settings ------------------------------------------------------------------------------


def test_settings_are_validated_and_errors_name_the_setting(shop, graphql):
    client = graphql(shop)
    cases = [
        ({"days_ahead": 61}, "settings.days_ahead"),
        ({"days_ahead": "7"}, "settings.days_ahead"),
        ({"greetings": [{"channel": "FAX", "template": "hi"}]}, "settings.greetings.0.channel"),
        ({"greetings": [{"channel": "SMS", "template": "{name}, your number is {phone}"}]}, "settings.greetings.0.template"),
        ({"greetings": [{"channel": "SMS", "template": "hi {name"}]}, "settings.greetings.0.template"),
        ({"greetings": [{"channel": "SMS", "template": "a"}, {"channel": "sms", "template": "b"}]}, "settings.greetings"),
        ({"colour": "red"}, "settings.colour"),
    ]
    for settings, field in cases:
        assert [e["field"] for e in configure(client, settings)] == [field], settings
    unknown = configure(client, {"greetings": [{"channel": "SMS", "template": "{phone}"}]})[0]["message"]
    assert unknown == "unknown placeholder {phone}; use {name} and {shop}"
    assert configure(client, {"days_ahead": 14, "greetings": [{"channel": "wechat", "template": "{name} 生日快乐"}]}) == []


# -- isolation -----------------------------------------------------------------------------


def test_another_tenant_never_sees_or_touches_the_greetings(make_tenant, graphql, gx):
    mine, theirs = make_tenant(modules=(MODULE,)), make_tenant(modules=(MODULE,))
    me, them = graphql(mine), graphql(theirs)
    who = create_customer(me, "王芳", born_in(2), {"WECHAT": True})

    assert run_job(gx, theirs) == "0 greetings queued"
    assert run_job(gx, mine) == "1 greetings queued"
    greeting_id = greeting(me, who)["id"]
    assert data(them.execute(UPCOMING, {"days": 366}))["birthdaysUpcoming"]["edges"] == []
    assert [(e["field"], e["code"]) for e in mark_sent(them, greeting_id)["errors"]] == [("greetingId", "NOT_FOUND")]
    assert data(them.execute(CUSTOMER, {"id": who}))["customer"] is None
    assert greeting(me, who)["status"] == "QUEUED"


def test_the_migrations_create_what_the_models_declare(gx):
    with gx.engine.connect() as connection:
        mine = [difference for difference in differences(gx, connection) if "birthday_greetings" in difference]
    assert mine == []
