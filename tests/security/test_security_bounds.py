"""Every input bounded where it is validated (issue #20, item 8): values a
column or the arithmetic cannot hold, dates outside the documented range, and
text with NUL or lone surrogates come back as field errors naming the field,
the same on SQLite and PostgreSQL; never INTERNAL_SERVER_ERROR, never an
error in the logs, never a write committed before its response was built.
"""

from __future__ import annotations

import pytest

from tests.security.conftest import seed

CREATE = "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id name } errors { field message code } } }"
RECORD = ("mutation($i: InteractionInput!) { recordInteraction(input: $i) { interaction { id } duplicate "
          "errors { field message code } } }")
BULK = ("mutation($i: RecordInteractionsInput!) { recordInteractions(input: $i) { recordedCount "
        "itemErrors { index field message code } errors { field message code } } }")


@pytest.fixture(scope="module")
def seeded(gx, sync_client):
    return seed(sync_client, gx, customers=2)


def _payload(body: dict, name: str) -> dict:
    assert "errors" not in body, body
    return body["data"][name]


def _clean(response, captured_logs) -> dict:
    """The response is not a server failure, and nothing was logged as an error."""
    assert response.status_code < 500, response.text
    body = response.json()
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
    assert "INTERNAL_SERVER_ERROR" not in codes and "DATABASE_UNAVAILABLE" not in codes, body
    assert captured_logs.errors() == []
    return body


# -- text: NUL and lone surrogates, anywhere ------------------------------------------------

BAD_TEXT = ["a\u0000b", "a\ud800b", "\udfff"]


@pytest.mark.parametrize("text", BAD_TEXT, ids=["nul", "high-surrogate", "low-surrogate"])
def test_bad_text_in_a_search_or_filter_is_a_clean_input_error(seeded, sync_client, captured_logs, text):
    for query, variables in [
        ("query($s: String) { customers(search: $s) { totalCount } }", {"s": text}),
        ("query($w: CustomerWhere) { customers(where: $w) { totalCount } }", {"w": {"store": {"eq": text}}}),
        ("query($w: CustomerWhere) { customers(where: $w) { totalCount } }", {"w": {"tags": {"has": text}}}),
    ]:
        response = sync_client.post(seeded.keys["VIEWER"], query, variables)
        body = _clean(response, captured_logs)
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body
        assert "NUL" in body["errors"][0]["message"] or "surrogate" in body["errors"][0]["message"], body


def test_a_nul_in_a_mutation_is_a_payload_error_naming_the_field(seeded, sync_client, captured_logs):
    for values, field in (({"name": "a\u0000b"}, "name"), ({"name": "ok", "tags": ["vip\u0000"]}, "tags"),
                          ({"name": "ok", "attributes": {"note": "x\u0000"}}, "attributes")):
        response = sync_client.post(seeded.keys["ADMIN"], CREATE, {"i": values})
        payload = _payload(_clean(response, captured_logs), "createCustomer")
        assert payload["customer"] is None
        assert [e["field"] for e in payload["errors"]] == [field], payload


@pytest.mark.parametrize("text", BAD_TEXT[1:], ids=["high-surrogate", "low-surrogate"])
def test_a_lone_surrogate_in_a_mutation_is_a_bad_request_naming_where(seeded, sync_client, captured_logs, text):
    response = sync_client.post(seeded.keys["ADMIN"], CREATE, {"i": {"name": text}})
    assert response.status_code == 400, response.text
    error = _clean(response, captured_logs)["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "variables.i.name" in error["message"], error


def test_bad_text_in_one_bulk_item_is_an_error_of_that_item(seeded, sync_client, captured_logs):
    items = [{"customerId": seeded.customer_ids[0], "kind": "VISIT", "occurredAt": "2025-05-01T10:00:00+08:00", "store": "ok"},
             {"customerId": seeded.customer_ids[0], "kind": "VISIT", "occurredAt": "2025-05-01T10:00:00+08:00", "store": "x\u0000"}]
    payload = _payload(_clean(sync_client.post(seeded.keys["ADMIN"], BULK, {"i": {"items": items}}), captured_logs),
                       "recordInteractions")
    assert payload["recordedCount"] == 1
    assert [(e["index"], e["field"]) for e in payload["itemErrors"]] == [(1, "store")], payload


# -- string lengths: refused on both databases ------------------------------------------------


@pytest.mark.parametrize("field,limit", [("name", 200), ("code", 64), ("city", 100), ("preferences", 2000)])
def test_a_string_longer_than_its_column_is_refused_naming_the_field(seeded, sync_client, captured_logs, field, limit):
    response = sync_client.post(seeded.keys["ADMIN"], CREATE, {"i": {field: "长" * (limit + 1)}})
    payload = _payload(_clean(response, captured_logs), "createCustomer")
    assert payload["customer"] is None
    assert payload["errors"][0]["field"] == field and f"{limit:,}" in payload["errors"][0]["message"], payload
    response = sync_client.post(seeded.keys["ADMIN"], CREATE, {"i": {field: "长" * limit} | ({"name": "x"} if field != "name" else {})})
    payload = _payload(_clean(response, captured_logs), "createCustomer")
    assert payload["errors"] == [] and payload["customer"], payload


def test_a_too_long_interaction_string_is_a_field_error(seeded, sync_client, captured_logs):
    base = {"customerId": seeded.customer_ids[0], "kind": "VISIT", "occurredAt": "2025-05-01T10:00:00+08:00"}
    for field, limit in (("store", 64), ("staff", 64), ("externalId", 128)):
        response = sync_client.post(seeded.keys["ADMIN"], RECORD, {"i": base | {field: "s" * (limit + 1)}})
        payload = _payload(_clean(response, captured_logs), "recordInteraction")
        assert payload["interaction"] is None and [e["field"] for e in payload["errors"]] == [field], payload


# -- dates: a documented range -------------------------------------------------------------------

EDGE_DATES = ["0001-01-01T00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "9999-12-31T23:59:59"]
# Inside the DateTime scalar's range but, read in the tenant's zone (Asia/Shanghai), before 1900-01-01 UTC:
# refused by the services, on the field.
JUST_BEFORE = "1900-01-01T00:00:00"

SCORING = "mutation($i: RunScoringInput!) { runScoring(input: $i) { job { id } errors { field message code } } }"
OPEN = "mutation($i: OpenComplaintInput!) { openComplaint(input: $i) { complaint { id } errors { field message code } } }"


def _date_requests(seeded, when: str) -> list[tuple[str, str, dict, str]]:
    """(query, payload name, variables, field) of each mutation taking a date-time."""
    return [
        (RECORD, "recordInteraction", {"i": {"customerId": seeded.customer_ids[0], "kind": "VISIT", "occurredAt": when}}, "occurredAt"),
        (SCORING, "runScoring", {"i": {"asOf": when}}, "asOf"),
        (OPEN, "openComplaint", {"i": {"customerId": seeded.customer_ids[0], "category": "PRODUCT_QUALITY", "openedAt": when}},
         "openedAt"),
    ]


@pytest.mark.parametrize("when", EDGE_DATES)
def test_dates_at_the_edge_of_the_calendar_are_refused_naming_the_field(seeded, sync_client, captured_logs, when):
    """The DateTime scalar refuses them (HTTP 400, like a date that does not exist); a bulk item's
    time is text, so the bulk refuses that item alone."""
    for query, _, variables, field in _date_requests(seeded, when):
        response = sync_client.post(seeded.keys["ADMIN"], query, variables)
        assert response.status_code == 400, response.text
        error = _clean(response, captured_logs)["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT" and field in error["message"] and "1900-01-01" in error["message"], error

    item = _date_requests(seeded, when)[0][2]["i"]
    ok = {"customerId": seeded.customer_ids[0], "kind": "VISIT", "occurredAt": "2025-05-02T10:00:00+08:00"}
    payload = _payload(_clean(sync_client.post(seeded.keys["ADMIN"], BULK, {"i": {"items": [ok, item]}}), captured_logs),
                       "recordInteractions")
    assert payload["recordedCount"] == 1 and [(e["index"], e["field"]) for e in payload["itemErrors"]] == [(1, "occurredAt")], payload


def test_a_local_time_before_1900_in_utc_is_a_payload_error_on_the_field(seeded, sync_client, captured_logs):
    for query, name, variables, field in _date_requests(seeded, JUST_BEFORE):
        payload = _payload(_clean(sync_client.post(seeded.keys["ADMIN"], query, variables), captured_logs), name)
        assert [e["field"] for e in payload["errors"]] == [field], payload


def test_dates_at_the_edge_of_the_calendar_in_a_query_are_input_errors(seeded, sync_client, captured_logs):
    """Found by bench/fuzz.py: complaintStats(from: "0001-01-01T00:00:00+14:00") overflowed converting to UTC."""
    query = ("query($from: DateTime!, $to: DateTime!) { complaintStats(from: $from, to: $to) { totals { count } } }")
    for when in EDGE_DATES:
        response = sync_client.post(seeded.keys["VIEWER"], query, {"from": when, "to": "2025-01-01T00:00:00Z"})
        assert response.status_code == 400, response.text
        assert _clean(response, captured_logs)["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    query = "query($w: CustomerWhere) { customers(where: $w) { totalCount } }"
    response = sync_client.post(seeded.keys["VIEWER"], query, {"w": {"createdAt": {"gte": "9999-12-31T23:59:59-12:00"}}})
    assert response.status_code == 400 and _clean(response, captured_logs)["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_bulk_item_whose_date_is_not_a_date_is_an_error_of_that_item(seeded, sync_client, captured_logs):
    ok = {"customerId": seeded.customer_ids[0], "kind": "VISIT", "occurredAt": "2025-05-03T10:00:00+08:00"}
    bad = ok | {"occurredAt": "not a date"}
    payload = _payload(_clean(sync_client.post(seeded.keys["ADMIN"], BULK, {"i": {"items": [ok, bad]}}), captured_logs),
                       "recordInteractions")
    assert payload["recordedCount"] == 1 and [(e["index"], e["field"]) for e in payload["itemErrors"]] == [(1, "occurredAt")], payload


# -- numbers: what the columns and the arithmetic hold -----------------------------------------------


def test_a_purchase_past_the_maximum_amount_is_refused_and_totals_stay_sound(seeded, sync_client, captured_logs):
    cid = seeded.customer_ids[1]
    for n in range(3):
        item = {"customerId": cid, "kind": "PURCHASE", "occurredAt": f"2025-06-0{n + 1}T10:00:00+08:00", "amount": "999999999999.99",
                "externalId": f"{seeded.marker}-big{n}"}
        payload = _payload(_clean(sync_client.post(seeded.keys["ADMIN"], RECORD, {"i": item}), captured_logs), "recordInteraction")
        assert payload["interaction"] is None and [e["field"] for e in payload["errors"]] == ["amount"], payload
    body = _clean(sync_client.post(seeded.keys["VIEWER"], "query($id: ID!) { customer(id: $id) { totalSpent } }", {"id": cid}),
                  captured_logs)
    assert body["data"]["customer"]["totalSpent"] is not None


ADJUST = ("mutation($i: AdjustPointsInput!) { adjustPoints(input: $i) { errors { field message code } } }")


def test_points_past_what_a_balance_holds_are_refused_before_anything_commits(seeded, sync_client, captured_logs):
    cid = seeded.customer_ids[0]
    enroll = "mutation($i: EnrollMemberInput!) { enrollMember(input: $i) { errors { field code } } }"
    sync_client.gql(seeded.keys["ADMIN"], enroll, {"i": {"customerId": cid}})
    balance = "query($id: ID!) { customer(id: $id) { loyalty { points } } }"
    before = sync_client.gql(seeded.keys["VIEWER"], balance, {"id": cid})["data"]["customer"]["loyalty"]["points"]
    for points in (2**31 - 1, 2**31 - 1):  # a retry of a refused call must not credit twice
        body = _clean(sync_client.post(seeded.keys["ADMIN"], ADJUST, {"i": {"customerId": cid, "points": points, "reason": "x"}}),
                      captured_logs)
        errors = (body.get("data") or {}).get("adjustPoints", {}).get("errors") if body.get("data") else None
        assert errors and errors[0]["field"] == "points", body
    after = sync_client.gql(seeded.keys["VIEWER"], balance, {"id": cid})["data"]["customer"]["loyalty"]["points"]
    assert after == before
    body = _clean(sync_client.post(seeded.keys["VIEWER"], "{ loyaltyProgram { tiers { code } } }"), captured_logs)
    assert body["data"]["loyaltyProgram"] is not None, body


def test_a_reward_valid_for_too_long_is_refused(seeded, sync_client, captured_logs):
    query = "mutation($i: CreateRewardInput!) { createReward(input: $i) { errors { field message code } } }"
    reward = {"code": f"{seeded.marker}-r", "nameZh": "券", "nameEn": "coupon", "kind": "COUPON", "pointsPrice": 10,
              "validDays": 3_000_000}
    payload = _payload(_clean(sync_client.post(seeded.keys["ADMIN"], query, {"i": reward}), captured_logs), "createReward")
    assert [e["field"] for e in payload["errors"]] == ["validDays"], payload


def test_points_expiring_in_negative_days_is_a_field_error(seeded, sync_client, captured_logs):
    query = "query($id: ID!) { customer(id: $id) { loyalty { points pointsExpiringSoon(days: -1) } } }"
    body = _clean(sync_client.post(seeded.keys["VIEWER"], query, {"id": seeded.customer_ids[0]}), captured_logs)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and "days" in body["errors"][0]["message"], body
    assert body["errors"][0]["path"][-1] == "pointsExpiringSoon"


def test_an_in_list_past_the_limit_names_the_filter_and_the_limit(seeded, sync_client, captured_logs):
    query = "query($w: CustomerWhere) { customers(where: $w) { totalCount } }"
    body = _clean(sync_client.post(seeded.keys["VIEWER"], query, {"w": {"store": {"in": [f"s{n}" for n in range(70_000)]}}}),
                  captured_logs)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and "store" in error["message"] and "1,000" in error["message"], body


# -- the request itself ------------------------------------------------------------------------------


def test_an_unknown_operation_name_is_a_400_naming_it(seeded, sync_client, captured_logs):
    response = sync_client.post(seeded.keys["VIEWER"], "query A { me { role { code } } }", operationName="B")
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST" and "'B'" in error["message"]
    assert captured_logs.errors() == []


def test_two_operations_without_an_operation_name_are_a_400(seeded, sync_client, captured_logs):
    query = "query A { me { role { code } } } mutation B { enableModule(input: {name: \"rfm\"}) { errors { code } } }"
    response = sync_client.request("POST", "/graphql", json={"query": query},
                                   headers={"Authorization": f"Bearer {seeded.keys['ADMIN']}"})
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST" and "operationName" in error["message"]
    assert captured_logs.errors() == []


def test_a_customer_total_past_its_column_is_refused_the_same_on_both_databases(seeded, sync_client, captured_logs):
    """1,000 of the largest purchases fit a customer's total (NUMERIC(14, 2)); one more is refused on
    ``amount`` (PostgreSQL refused the UPDATE with a 500; SQLite stored it as REAL)."""
    key = seeded.keys["ADMIN"]
    create = "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } errors { message } } }"
    cid = sync_client.gql(key, create, {"i": {"name": "big spender"}})["data"]["createCustomer"]["customer"]["id"]
    items = [{"customerId": cid, "kind": "PURCHASE", "occurredAt": "2025-07-01T10:00:00+08:00", "amount": "999999999.99",
              "externalId": f"{seeded.marker}-max{n}"} for n in range(1000)]
    payload = _payload(_clean(sync_client.post(key, BULK, {"i": {"items": items}}), captured_logs), "recordInteractions")
    assert payload["recordedCount"] == 1000, payload
    total = "query($id: ID!) { customer(id: $id) { totalSpent purchaseCount } }"
    before = sync_client.gql(key, total, {"id": cid})["data"]["customer"]
    # (SQLite keeps money as REAL: at 10^12 a double no longer holds every cent, so the last one may differ)
    assert before["purchaseCount"] == 1000 and abs(float(before["totalSpent"]) - 999999999990.00) < 0.02, before
    item = items[0] | {"externalId": f"{seeded.marker}-max-over"}
    payload = _payload(_clean(sync_client.post(key, RECORD, {"i": item}), captured_logs), "recordInteraction")
    assert payload["interaction"] is None and [e["field"] for e in payload["errors"]] == ["amount"], payload
    assert sync_client.gql(key, total, {"id": cid})["data"]["customer"] == before
    # the loyalty points those purchases earned are capped at what a balance holds; the programme stays readable
    body = _clean(sync_client.post(seeded.keys["VIEWER"], "query($id: ID!) { customer(id: $id) { loyalty { points } } "
                       "loyaltyProgram { pointsOutstanding } }", {"id": cid}), captured_logs)
    assert body["data"]["customer"]["loyalty"]["points"] == 2**31 - 1, body
    assert body["data"]["loyaltyProgram"]["pointsOutstanding"] >= 2**31 - 1, body


@pytest.mark.parametrize("cursor", ["´\U000ff853_»Sla.ÓLLÝÇþz", "é.é", "abc.ü", "\U0001F600"])
def test_a_cursor_of_non_ascii_text_is_a_bad_cursor(seeded, sync_client, captured_logs, cursor):
    """Found by bench/fuzz.py: comparing a non-ASCII signature raised a TypeError (500)."""
    body = _clean(sync_client.post(seeded.keys["VIEWER"], "query($a: String) { customers(after: $a) { totalCount } }",
                                   {"a": cursor}), captured_logs)
    assert body["errors"][0]["extensions"]["code"] == "BAD_CURSOR", body


@pytest.mark.parametrize("escape,code", [("\\u0000", "BAD_USER_INPUT"), ("\\ud800", "GRAPHQL_PARSE_FAILED")])
def test_bad_text_written_into_the_query_is_refused_too(seeded, sync_client, captured_logs, escape, code):
    """The same text as a GraphQL string literal (graphql-core's parser refuses a lone surrogate escape itself)."""
    response = sync_client.post(seeded.keys["VIEWER"], '{ customers(search: "a%sb") { totalCount } }' % escape)
    assert response.status_code == 400, response.text
    error = _clean(response, captured_logs)["errors"][0]
    assert error["extensions"]["code"] == code, error
