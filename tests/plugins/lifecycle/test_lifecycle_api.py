"""The lifecycle GraphQL through the real ASGI app (httpx): Customer.lifecycle, the customer filter,
stages, transitions, reasons, win-back lists, payload errors, roles and tenant isolation."""

from __future__ import annotations

from datetime import timedelta

from api.ids import to_global_id
from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from engine.services.modules import configure
from engine.types import utcnow
from plugins.lifecycle.history import run_stages

FIXED = {"at_risk_days": 10, "lapsed_days": 20, "churned_days": 40}
PEOPLE = {"active": (30, 20, 2), "risky": (40, 30, 15), "lapsed": (60, 50, 25), "gone": (200, 100)}

CUSTOMER = """query($id: ID!) { node(id: $id) { ... on Customer { lifecycle {
  stage { code label(lang: EN) } since risk valueAtRisk riskSource expectedGapDays
  journey { fromStage { code } toStage { code } at } churnReasons { code label(lang: EN) store } } } } }"""
FILTER = """query($where: CustomerWhere) { customers(first: 50, where: $where) { totalCount edges { node { name } } } }"""
STAGES = """{ lifecycleStages { customers stages { stage { code } customers share } thresholds { shape newDays } } }"""
TRANSITIONS = """query($first: Boolean!) { lifecycleTransitions(includeFirstStages: $first) {
  month flows { fromStage { code } toStage { code } customers } } }"""
RECORD = """mutation($input: RecordChurnReasonInput!) { recordChurnReason(input: $input) {
  reason { code label(lang: EN) stage { code } store staff recordedBy } errors { field message code } } }"""
REPORT = """{ lifecycleChurnReport { total byReason { key count } byStore { key count } bySide { key count } } }"""
CREATE_LIST = """mutation($input: CreateLifecycleWinbackListInput!) { createLifecycleWinbackList(input: $input) {
  winbackList { id name valueThreshold windowDays complete
    outcomeBySegment { segment customers wonBack wonBackShare }
    members(first: 1) { edges { cursor node { customerId segment value stage { code } } } pageInfo { hasNextPage endCursor } } }
  errors { field code } } }"""
LIST = """query($id: ID!, $after: String) { lifecycleWinbackList(id: $id) { name
  members(first: 1, after: $after) { edges { node { value } } pageInfo { hasNextPage } } } }"""
UPDATE = """mutation { updateLifecycleStages(input: {}) { stages { customers } changed errors { field code } } }"""


def _setup(gx, make_tenant):
    slug = make_tenant(modules=("lifecycle",))
    now = utcnow()
    ids = {}
    with gx.tenant(slug) as ctx:
        configure(ctx.session, gx.plugins, ctx.tenant_id, "lifecycle", FIXED)
        for name, days in PEOPLE.items():
            ids[name] = create_customer(ctx, {"name": name}).id
            record_interactions(ctx, [{"customer_id": ids[name], "kind": "PURCHASE", "amount": str(100 * (k + 1)),
                                       "store": "SH", "staff": "wang", "occurred_at": now - timedelta(days=d)}
                                      for k, d in enumerate(days)])
    with gx.tenant(slug) as ctx:
        run_stages(ctx)
    return slug, ids


def test_customer_lifecycle_and_the_customer_filter(gx, make_tenant, graphql):
    slug, ids = _setup(gx, make_tenant)
    admin = graphql(slug)
    body = admin.execute(CUSTOMER, {"id": to_global_id("Customer", ids["risky"])})
    assert "errors" not in body, body
    state = body["data"]["node"]["lifecycle"]
    assert state["stage"] == {"code": "AT_RISK", "label": "At risk"}
    assert 0 <= state["risk"] <= 1 and state["riskSource"] == "recency_frequency"
    assert [(j["fromStage"], j["toStage"]["code"]) for j in state["journey"]] == [(None, "AT_RISK")]

    def names(where):
        found = admin.execute(FILTER, {"where": where})
        assert "errors" not in found, found
        return sorted(e["node"]["name"] for e in found["data"]["customers"]["edges"])

    assert names({"lifecycle": {"stage": {"eq": "AT_RISK"}}}) == ["risky"]
    assert names({"lifecycle": {"stage": {"in": ["LAPSED", "CHURNED"]}}}) == ["gone", "lapsed"]
    risky = {n for n in PEOPLE if _risk(admin, ids[n]) >= 0.5}
    assert names({"lifecycle": {"risk": {"gte": 0.5}}}) == sorted(risky)
    # Campaign-style segments combine it with the core filters.
    assert names({"AND": [{"lifecycle": {"stage": {"eq": "LAPSED"}}}, {"name": {"eq": "lapsed"}}]}) == ["lapsed"]


def _risk(client, customer_id):
    return client.execute(CUSTOMER, {"id": to_global_id("Customer", customer_id)})["data"]["node"]["lifecycle"]["risk"]


def test_stages_transitions_and_the_stage_run_mutation(gx, make_tenant, graphql):
    slug, _ = _setup(gx, make_tenant)
    admin = graphql(slug)
    stages = admin.execute(STAGES)["data"]["lifecycleStages"]
    counts = {s["stage"]["code"]: s["customers"] for s in stages["stages"]}
    assert counts == {"PROSPECT": 0, "NEW": 0, "ACTIVE": 1, "AT_RISK": 1, "LAPSED": 1, "CHURNED": 1, "WON_BACK": 0}
    assert stages["customers"] == 4
    months = admin.execute(TRANSITIONS, {"first": True})["data"]["lifecycleTransitions"]
    assert sum(f["customers"] for m in months for f in m["flows"]) == 4
    assert admin.execute(TRANSITIONS, {"first": False})["data"]["lifecycleTransitions"] == []
    refused = graphql(slug, "AGENT").execute(UPDATE)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    ran = admin.execute(UPDATE)["data"]["updateLifecycleStages"]
    assert ran == {"stages": {"customers": 4}, "changed": 0, "errors": []}
    back = admin.execute("""mutation { updateLifecycleStages(input: {asOf: "2020-01-01T00:00:00Z"}) {
      stages { customers } errors { field code } } }""")["data"]["updateLifecycleStages"]
    assert back == {"stages": None, "errors": [{"field": "asOf", "code": "INVALID"}]}


def test_churn_reasons_through_the_api(gx, make_tenant, graphql):
    slug, ids = _setup(gx, make_tenant)
    agent = graphql(slug, "AGENT")
    ok = agent.execute(RECORD, {"input": {"customerId": to_global_id("Customer", ids["lapsed"]), "code": "SERVICE",
                                          "note": "店员态度不好"}})["data"]["recordChurnReason"]
    assert ok["errors"] == []
    assert ok["reason"]["code"] == "SERVICE" and ok["reason"]["label"] == "Service"
    assert (ok["reason"]["stage"]["code"], ok["reason"]["store"], ok["reason"]["staff"]) == ("LAPSED", "SH", "wang")
    not_gone = agent.execute(RECORD, {"input": {"customerId": to_global_id("Customer", ids["active"]), "code": "SERVICE"}})
    assert not_gone["data"]["recordChurnReason"] == {"reason": None, "errors": [
        {"field": "customerId", "message": not_gone["data"]["recordChurnReason"]["errors"][0]["message"], "code": "INVALID"}]}
    bad_code = agent.execute(RECORD, {"input": {"customerId": to_global_id("Customer", ids["gone"]), "code": "NOPE"}})
    assert [e["field"] for e in bad_code["data"]["recordChurnReason"]["errors"]] == ["code"]
    unknown = agent.execute(RECORD, {"input": {"customerId": to_global_id("Customer", 10**9), "code": "SERVICE"}})
    assert unknown["data"]["recordChurnReason"]["errors"][0]["code"] == "NOT_FOUND"
    viewer = graphql(slug, "VIEWER").execute(RECORD, {"input": {"customerId": to_global_id("Customer", ids["gone"]),
                                                                "code": "SERVICE"}})
    assert viewer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    report = agent.execute(REPORT)["data"]["lifecycleChurnReport"]
    assert report == {"total": 1, "byReason": [{"key": "SERVICE", "count": 1}], "byStore": [{"key": "SH", "count": 1}],
                      "bySide": [{"key": "COMPANY", "count": 1}]}
    reasons = agent.execute(CUSTOMER, {"id": to_global_id("Customer", ids["lapsed"])})["data"]["node"]["lifecycle"]["churnReasons"]
    assert reasons == [{"code": "SERVICE", "label": "Service", "store": "SH"}]


def test_winback_lists_page_and_stay_in_their_tenant(gx, make_tenant, graphql):
    slug, ids = _setup(gx, make_tenant)
    other, _ = _setup(gx, make_tenant)
    agent = graphql(slug, "AGENT")
    bad = agent.execute(CREATE_LIST, {"input": {"name": "x", "windowDays": 0}})["data"]["createLifecycleWinbackList"]
    assert bad == {"winbackList": None, "errors": [{"field": "windowDays", "code": "INVALID"}]}
    made = agent.execute(CREATE_LIST, {"input": {"name": "spring", "valueThreshold": "250"}})["data"]["createLifecycleWinbackList"]
    assert made["errors"] == []
    wb = made["winbackList"]
    # lapsed spent 100+200+300 = 600, gone 100+200 = 300: both at or above 250.
    assert wb["valueThreshold"] == "250.00" and wb["complete"] is False
    assert wb["outcomeBySegment"] == [{"segment": "WIN_BACK", "customers": 2, "wonBack": 0, "wonBackShare": 0.0},
                                      {"segment": "LET_GO", "customers": 0, "wonBack": 0, "wonBackShare": None}]
    first = wb["members"]
    assert first["edges"][0]["node"]["value"] == "600.00" and first["pageInfo"]["hasNextPage"] is True
    second = agent.execute(LIST, {"id": wb["id"], "after": first["pageInfo"]["endCursor"]})["data"]["lifecycleWinbackList"]
    assert second["members"] == {"edges": [{"node": {"value": "300.00"}}], "pageInfo": {"hasNextPage": False}}
    # Another tenant sees neither the list nor the customers' stages.
    outsider = graphql(other)
    assert outsider.execute(LIST, {"id": wb["id"]})["data"]["lifecycleWinbackList"] is None
    assert outsider.execute(CUSTOMER, {"id": to_global_id("Customer", ids["lapsed"])})["data"]["node"] is None
    assert outsider.execute("{ lifecycleWinbackLists { edges { node { name } } } }")["data"]["lifecycleWinbackLists"]["edges"] == []
    agent.execute(CREATE_LIST, {"input": {"name": "summer"}})
    page = agent.execute("{ lifecycleWinbackLists(first: 1) { edges { node { name } } pageInfo { hasNextPage } } }")
    assert page["data"]["lifecycleWinbackLists"] == {"edges": [{"node": {"name": "summer"}}], "pageInfo": {"hasNextPage": True}}
    # A tenant without the module has none of it.
    plain = make_tenant()
    response = graphql(plain).post(STAGES)
    assert response.status_code == 400 and "lifecycleStages" in response.text
