"""The webhooks page in Chromium, against what the API then says: an admin adds
an endpoint (a bad URL or event type shown next to its field, nothing saved;
the signing secret shown once, the one the server signs with), disables and
enables it, rotates its secret (a bad overlap at its field), deletes it after
typing its host; an endpoint's deliveries newest first, paged, filtered by
status, the dead ones replayed one and all. Other roles have no page. In at
most two requests, without console errors or failed requests."""

from __future__ import annotations

import sqlalchemy as sa

from engine.services.customers import create_customer
from plugins.webhooks import crypto
from plugins.webhooks.endpoints import create_endpoint
from plugins.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.browser.harness import WAIT_MS

URL = "https://93.184.215.14/guanxi"  # a public address, so no name lookup and no allow-list needed
ENDPOINTS = "{ webhookEndpoints { id url description eventTypes enabled previousSecretExpiresAt } }"
DELIVERIES = """query($id: ID!, $status: WebhookDeliveryStatus, $after: String) {
  webhookDeliveries(endpointId: $id, status: $status, first: 20, after: $after) {
    totalCount pageInfo { endCursor } edges { node { id status } } } }"""


def assert_clean(tab) -> None:
    last = tab.last_page()
    assert last["route"] == "webhooks" and 1 <= last["requests"] <= 2, last
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == []
    assert tab.page.locator("#view .error").count() == 0


def wait_text(tab, testid: str, text: str) -> None:
    tab.page.wait_for_function("([id, text]) => (document.querySelector(`[data-testid=${id}]`) || {}).textContent?.includes(text)",
                               arg=[testid, text], timeout=WAIT_MS)


def wait_field_error(tab, name: str) -> str:
    selector = f'[data-testid=webhooks-panel] [data-field="{name}"] .field-error, [data-testid=webhooks-create] [data-field="{name}"] .field-error'
    tab.page.wait_for_function("(s) => [...document.querySelectorAll(s)].some((n) => n.textContent !== '')", arg=selector, timeout=WAIT_MS)
    return " ".join(tab.page.locator(selector).all_inner_texts())


def stored_secret(gx, slug: str) -> str:
    with gx.tenant(slug, write=False) as ctx:
        row = ctx.session.execute(sa.select(WebhookEndpoint)).scalar_one()
        return crypto.decrypt(gx.settings, row.secret_encrypted, f"{row.tenant_id}:{row.id}")


def test_an_admin_adds_disables_enables_rotates_and_deletes_an_endpoint(console, make_tenant, make_key, graphql, gx):
    slug = make_tenant(modules=("webhooks",))
    api = graphql(slug)
    tab = console()
    tab.sign_in(make_key(slug, "ADMIN"))
    page = tab.page
    tab.open("webhooks")
    tab.use_lang("zh")
    assert_clean(tab)
    assert page.get_by_test_id("webhooks-endpoints").inner_text() == "还没有接收地址。"
    assert page.locator("nav.menu a[data-route=webhooks]").inner_text() == "Webhook 推送"
    tab.use_lang("en")
    assert_clean(tab)
    assert page.get_by_test_id("webhooks-endpoints").inner_text() == "No endpoints yet."

    form = page.get_by_test_id("webhooks-create")
    form.get_by_test_id("webhooks-url").fill("http://127.0.0.1:9/hook")  # the server's own network: refused
    form.get_by_test_id("webhooks-create-go").click()
    assert "non-public" in wait_field_error(tab, "url")
    form.get_by_test_id("webhooks-url").fill(URL)
    form.get_by_test_id("webhooks-events").fill("customer.created, customer.deleted")
    form.get_by_test_id("webhooks-create-go").click()
    assert "customer.deleted" in wait_field_error(tab, "eventTypes")
    assert form.locator('[data-field="url"] .field-error').inner_text() == ""
    assert api.execute(ENDPOINTS)["data"]["webhookEndpoints"] == []  # nothing saved on error

    form.get_by_test_id("webhooks-events").fill("customer.created, campaign.*")
    form.get_by_test_id("webhooks-description").fill("SMS gateway")
    form.get_by_test_id("webhooks-create-go").click()
    page.get_by_test_id("webhooks-secret").wait_for(timeout=WAIT_MS)
    secret = page.get_by_test_id("webhooks-secret").inner_text()
    assert secret.startswith("whsec_") and secret == stored_secret(gx, slug)  # the secret the server signs with
    assert "webhook-signature" in page.get_by_test_id("webhooks-secret-box").inner_text()
    [endpoint] = api.execute(ENDPOINTS)["data"]["webhookEndpoints"]
    assert (endpoint["url"], endpoint["eventTypes"], endpoint["description"], endpoint["enabled"]) == (
        URL, ["customer.created", "campaign.*"], "SMS gateway", True)
    row = page.locator(f'[data-testid=webhooks-endpoints] tr[data-endpoint="{endpoint["id"]}"]')
    row.wait_for(timeout=WAIT_MS)
    assert "campaign.*" in row.inner_text() and "SMS gateway" in row.inner_text()
    assert URL in page.get_by_test_id("webhooks-notice").inner_text()
    assert form.get_by_test_id("webhooks-url").input_value() == ""

    row.get_by_test_id("webhooks-disable").click()
    row.get_by_test_id("webhooks-enable").wait_for(timeout=WAIT_MS)
    assert api.execute(ENDPOINTS)["data"]["webhookEndpoints"][0]["enabled"] is False
    assert row.get_by_test_id("webhooks-state").inner_text() == "Disabled"
    assert page.get_by_test_id("webhooks-secret").count() == 0  # shown once: gone after the next action
    row.get_by_test_id("webhooks-enable").click()
    row.get_by_test_id("webhooks-disable").wait_for(timeout=WAIT_MS)
    assert api.execute(ENDPOINTS)["data"]["webhookEndpoints"][0]["enabled"] is True

    row.get_by_test_id("webhooks-rotate-open").click()
    rotate = page.get_by_test_id("webhooks-rotate")
    rotate.get_by_test_id("webhooks-overlap-hours").fill("1000")  # over 720
    rotate.get_by_test_id("webhooks-rotate-go").click()
    assert "720" in wait_field_error(tab, "overlapHours")
    assert stored_secret(gx, slug) == secret  # unchanged
    rotate.get_by_test_id("webhooks-overlap-hours").fill("2")
    rotate.get_by_test_id("webhooks-rotate-go").click()
    page.get_by_test_id("webhooks-secret").wait_for(timeout=WAIT_MS)
    rotated = page.get_by_test_id("webhooks-secret").inner_text()
    assert rotated.startswith("whsec_") and rotated != secret and rotated == stored_secret(gx, slug)
    assert api.execute(ENDPOINTS)["data"]["webhookEndpoints"][0]["previousSecretExpiresAt"] is not None
    assert page.get_by_test_id("webhooks-overlap").count() == 1  # until when the old one signs
    wait_text(tab, "webhooks-endpoints", "old secret signs until")

    page.reload(wait_until="load")  # a fresh load: no secret anywhere
    tab.wait_ready()
    assert_clean(tab)
    assert page.get_by_test_id("webhooks-secret").count() == 0 and secret not in page.content() and rotated not in page.content()

    row.get_by_test_id("webhooks-delete-open").click()
    delete = page.get_by_test_id("webhooks-delete")
    go = delete.get_by_test_id("webhooks-delete-go")
    assert go.is_disabled()
    delete.get_by_test_id("webhooks-delete-confirm").fill("93.184.215")
    assert go.is_disabled()
    delete.get_by_test_id("webhooks-delete-confirm").fill("93.184.215.14")
    go.click()
    wait_text(tab, "webhooks-endpoints", "No endpoints yet.")
    assert api.execute(ENDPOINTS)["data"]["webhookEndpoints"] == []
    assert tab.console_errors == [] and tab.failed == []


def test_deliveries_newest_first_paged_filtered_and_dead_ones_replayed(console, make_tenant, make_key, graphql, gx):
    slug = make_tenant(modules=("webhooks",))
    with gx.tenant(slug) as ctx:
        endpoint_pk = create_endpoint(ctx, gx.settings, URL, ["customer.created"]).endpoint.id
        for n in range(25):
            create_customer(ctx, {"code": f"W{n:02d}"})
    with gx.tenant(slug) as ctx:  # three of them failed every attempt
        dead = ctx.session.execute(sa.select(WebhookDelivery.id).order_by(WebhookDelivery.id).limit(3)).scalars().all()
        ctx.session.execute(sa.update(WebhookDelivery).where(WebhookDelivery.id.in_(dead)).values(
            status="dead", attempts=8, last_status_code=503, last_error="HTTP 503 from the receiver"))
    api = graphql(slug)
    [endpoint] = api.execute(ENDPOINTS)["data"]["webhookEndpoints"]
    first = api.execute(DELIVERIES, {"id": endpoint["id"]})["data"]["webhookDeliveries"]
    assert first["totalCount"] == 25

    tab = console()
    tab.sign_in(make_key(slug, "ADMIN"))
    page = tab.page
    tab.use_lang("en")
    tab.open(f"webhooks/{endpoint['id']}")
    assert_clean(tab)
    row = page.locator(f'[data-testid=webhooks-endpoints] tr[data-endpoint="{endpoint["id"]}"]')
    assert row.locator("[data-count=dead]").inner_text() == "3 dead"
    assert row.locator("[data-count=pending]").inner_text() == "22 pending"
    shown = page.get_by_test_id("webhooks-deliveries").locator("tbody tr")

    def ids() -> list[str]:
        return shown.evaluate_all("rows => rows.map(r => r.dataset.delivery)")

    assert ids() == [e["node"]["id"] for e in first["edges"]]  # newest first, as the API
    assert page.get_by_test_id("webhooks-newer").is_disabled()

    page.get_by_test_id("webhooks-older").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=webhooks-deliveries] tbody tr').length === 5", timeout=WAIT_MS)
    second = api.execute(DELIVERIES, {"id": endpoint["id"], "after": first["pageInfo"]["endCursor"]})["data"]["webhookDeliveries"]
    assert ids() == [e["node"]["id"] for e in second["edges"]]
    assert page.get_by_test_id("webhooks-older").is_disabled()
    page.get_by_test_id("webhooks-newer").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=webhooks-deliveries] tbody tr').length === 20", timeout=WAIT_MS)
    assert ids() == [e["node"]["id"] for e in first["edges"]]

    assert page.get_by_test_id("webhooks-filter-dead").get_attribute("href") == f"#/webhooks/{endpoint['id']}/dead"
    tab.open(f"webhooks/{endpoint['id']}/dead")
    assert_clean(tab)
    page.wait_for_function("() => document.querySelectorAll('[data-testid=webhooks-deliveries] tbody tr').length === 3", timeout=WAIT_MS)
    assert "HTTP 503 from the receiver" in page.get_by_test_id("webhooks-deliveries").inner_text()
    one = ids()[0]
    page.locator(f'[data-testid=webhooks-deliveries] tr[data-delivery="{one}"]').get_by_test_id("webhooks-replay-one").click()
    page.wait_for_function("() => document.querySelectorAll('[data-testid=webhooks-deliveries] tbody tr').length === 2", timeout=WAIT_MS)
    dead_now = api.execute(DELIVERIES, {"id": endpoint["id"], "status": "DEAD"})["data"]["webhookDeliveries"]
    assert dead_now["totalCount"] == 2 and one not in [e["node"]["id"] for e in dead_now["edges"]]
    page.get_by_test_id("webhooks-replay-all").click()
    wait_text(tab, "webhooks-notice", "2")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=webhooks-deliveries] tbody tr').length === 0", timeout=WAIT_MS)
    assert api.execute(DELIVERIES, {"id": endpoint["id"], "status": "DEAD"})["data"]["webhookDeliveries"]["totalCount"] == 0
    assert api.execute(DELIVERIES, {"id": endpoint["id"], "status": "PENDING"})["data"]["webhookDeliveries"]["totalCount"] == 25
    assert page.get_by_test_id("webhooks-replay-all").count() == 0

    tab.open("webhooks/V2ViaG9va0VuZHBvaW50Ojk5OTk5")  # WebhookEndpoint:99999, not this tenant's
    assert_clean(tab)
    assert page.get_by_test_id("webhooks-not-found").is_visible()
    assert tab.console_errors == [] and tab.failed == []


def test_the_page_is_for_admins_only(console, make_tenant, make_key):
    slug = make_tenant(modules=("webhooks",))
    for role in ("VIEWER", "ANALYST", "AGENT"):
        tab = console()
        tab.sign_in(make_key(slug, role))
        routes = tab.page.get_by_test_id("menu").locator("a").evaluate_all("links => links.map(a => a.dataset.route)")
        assert "webhooks" not in routes
        tab.open("webhooks")  # typed in by hand: not there either, and nothing that writes
        assert tab.page.get_by_test_id("not-found").is_visible() and tab.page.locator("[data-write]").count() == 0
        assert tab.console_errors == [] and tab.failed == []
