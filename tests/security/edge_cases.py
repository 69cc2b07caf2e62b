"""The inputs issue #20 found failing the server, as requests any fuzz run
sends first (tests/security/test_security_fuzz.py in CI, bench/fuzz.py in
long runs): each must be answered without a 5xx, an INTERNAL_SERVER_ERROR or
an error in the logs (fuzzing.problems). What each one must answer exactly
is in test_security_bounds.py and test_security_races.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EDGE_TIMES = ["0001-01-01T00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "9999-12-31T23:59:59"]
BAD_TEXTS = ["a\u0000b", "\ud800", "x\udfffy"]

CREATE = "mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { customer { id } errors { field code } } }"
RECORD = "mutation($i: InteractionInput!) { recordInteraction(input: $i) { interaction { id } errors { field code } } }"
BULK = ("mutation($i: RecordInteractionsInput!) { recordInteractions(input: $i) { recordedCount "
        "itemErrors { index field code } errors { field code } } }")
SEARCH = "query($s: String, $w: CustomerWhere) { customers(search: $s, where: $w) { totalCount } }"


@dataclass
class Case:
    name: str
    role: str
    query: str
    variables: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)  # other body keys (operationName)


def cases(customer_id: str, marker: str) -> list[Case]:
    """Every case, against a customer of the tenant (``customer_id``); ``marker`` keeps codes unique."""
    out: list[Case] = []
    for n, text in enumerate(BAD_TEXTS):
        out += [
            Case(f"search text {n}", "VIEWER", SEARCH, {"s": text}),
            Case(f"filter text {n}", "VIEWER", SEARCH, {"w": {"store": {"eq": text}, "tags": {"has": text}}}),
            Case(f"create text {n}", "ADMIN", CREATE, {"i": {"name": text, "city": text}}),
            Case(f"interaction text {n}", "ADMIN", RECORD, {"i": {"customerId": customer_id, "kind": "VISIT",
                                                                  "occurredAt": "2025-01-01T10:00:00Z", "store": text}}),
        ]
    for n, when in enumerate(EDGE_TIMES):
        item = {"customerId": customer_id, "kind": "VISIT", "occurredAt": when}
        out += [
            Case(f"interaction time {n}", "ADMIN", RECORD, {"i": item}),
            Case(f"bulk time {n}", "ADMIN", BULK, {"i": {"items": [item, item | {"occurredAt": "2025-01-01T10:00:00Z"}]}}),
            Case(f"asOf {n}", "ANALYST", "mutation($i: RunScoringInput!) { runScoring(input: $i) { errors { field code } } }",
                 {"i": {"asOf": when}}),
            Case(f"openedAt {n}", "AGENT", "mutation($i: OpenComplaintInput!) { openComplaint(input: $i) { errors { field code } } }",
                 {"i": {"customerId": customer_id, "category": "PRODUCT_QUALITY", "openedAt": when}}),
        ]
    for field_name, length in (("name", 201), ("code", 65), ("city", 101), ("preferences", 2001), ("wechatId", 65)):
        out.append(Case(f"long {field_name}", "ADMIN", CREATE, {"i": {field_name: "长" * length}}))
    out += [
        Case("amount past the maximum", "ADMIN", RECORD, {"i": {"customerId": customer_id, "kind": "PURCHASE",
                                                                "occurredAt": "2025-01-01T10:00:00Z", "amount": "999999999999.99"}}),
        Case("points past 2^31", "ADMIN", "mutation($i: AdjustPointsInput!) { adjustPoints(input: $i) { errors { field code } } }",
             {"i": {"customerId": customer_id, "points": 2**31 - 1, "reason": "fuzz"}}),
        Case("loyalty programme", "VIEWER", "{ loyaltyProgram { pointsOutstanding pointsExpiring30Days } }"),
        Case("validDays 3,000,000", "ADMIN", "mutation($i: CreateRewardInput!) { createReward(input: $i) { errors { field code } } }",
             {"i": {"code": f"{marker}-vd", "nameZh": "券", "nameEn": "c", "kind": "COUPON", "pointsPrice": 1, "validDays": 3_000_000}}),
        Case("pointsExpiringSoon(days: -1)", "VIEWER",
             "query($id: ID!) { customer(id: $id) { loyalty { pointsExpiringSoon(days: -1) } } }", {"id": customer_id}),
        Case("IN list of 70,000", "VIEWER", SEARCH, {"w": {"code": {"in": [f"c{n}" for n in range(70_000)]}}}),
        Case("a cursor of non-ASCII text", "VIEWER", "query($a: String) { customers(after: $a) { totalCount } }",
             {"a": "´\U000ff853_»Sla.ÓLLÝÇþz"}),
        Case("unknown operationName", "VIEWER", "query A { me { role { code } } }", extra={"operationName": "B"}),
        Case("two operations, no operationName", "VIEWER", "query A { me { role { code } } } query B { me { enabledModules } }"),
    ]
    return out
