"""rfmGrid (the console's RFM heat map) and its drill-down through the API:
the cells against a count of the stored scores, a cell's customers against
the stored rows, per tenant, on every database."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlmodel import select

from engine.scoring import run_scoring
from engine.services.customers import create_customer
from engine.services.interactions import record_interactions
from engine.services.modules import configure
from plugins.rfm.models import RfmScore

AS_OF = datetime(2026, 6, 30, tzinfo=timezone.utc)

GRID = """{ rfmGrid { scheme k computedAt scored unscored cells {
  rScore fScore customers shareOfCustomers revenue shareOfRevenue avgRecencyDays avgFrequency avgMonetary
  segment { code label(lang: EN) } } } }"""
CELL = """query($r: Int!, $f: Int!, $after: String) {
  customers(first: 5, after: $after, where: {rfm: {rScore: {eq: $r}, fScore: {eq: $f}}},
            orderBy: {field: RFM_MONETARY, direction: DESC}) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id name rfm { rScore fScore monetary } } } } }"""

# docs/rfm.md's RF_GRID_10 table, written out cell by cell (R row, F column).
DOC_GRID = {
    5: ["NEW", "POTENTIAL_LOYALIST", "POTENTIAL_LOYALIST", "CHAMPIONS", "CHAMPIONS"],
    4: ["PROMISING", "POTENTIAL_LOYALIST", "POTENTIAL_LOYALIST", "LOYAL", "LOYAL"],
    3: ["ABOUT_TO_SLEEP", "ABOUT_TO_SLEEP", "NEED_ATTENTION", "LOYAL", "LOYAL"],
    2: ["HIBERNATING", "HIBERNATING", "AT_RISK", "AT_RISK", "CANT_LOSE"],
    1: ["HIBERNATING", "HIBERNATING", "AT_RISK", "AT_RISK", "CANT_LOSE"],
}


def _shop(gx, tenant: str, customers: int, seed: int, never: int = 3) -> dict[int, str]:
    """Random buyers (1 to 12 purchases over two years, a few refunds) and some who never bought."""
    rnd = random.Random(seed)
    names = {}
    with gx.tenant(tenant) as ctx:
        items = []
        for i in range(customers):
            cid = create_customer(ctx, {"name": f"{tenant} buyer {i:03d}"}).id
            names[cid] = f"{tenant} buyer {i:03d}"
            for n in range(rnd.choice([1, 1, 1, 2, 2, 3, 4, 6, 9, 12])):
                items.append({"customer_id": cid, "kind": "PURCHASE", "external_id": f"p{i}-{n}",
                              "occurred_at": AS_OF - timedelta(days=rnd.uniform(0.5, 700)),
                              "amount": f"{rnd.uniform(20, 900):.2f}"})
            if rnd.random() < 0.1:
                items.append({"kind": "REFUND", "occurred_at": AS_OF - timedelta(hours=1), "amount": "10.00",
                              "reverses_external_id": f"p{i}-0"})
        for i in range(never):
            create_customer(ctx, {"name": f"{tenant} never {i}"})
        record_interactions(ctx, items)
    return names


def _score(gx, tenant: str, **settings) -> None:
    with gx.tenant(tenant) as ctx:
        if settings:
            configure(ctx.session, gx.plugins, ctx.tenant_id, "rfm", settings)
            ctx.forget_modules()
        run_scoring(ctx, ["rfm"], as_of=AS_OF)


def _stored(gx, tenant: str) -> list[RfmScore]:
    with gx.tenant(tenant, write=False) as ctx:
        return list(ctx.session.exec(select(RfmScore).where(RfmScore.tenant_id == ctx.tenant_id)).all())


def _grid(graphql, tenant: str, role: str = "VIEWER") -> dict:
    body = graphql(tenant, role).execute(GRID)
    assert "errors" not in body, body
    return body["data"]["rfmGrid"]


def test_the_grid_counts_every_scored_customer_in_its_r_f_cell(gx, make_tenant, graphql):
    tenant = make_tenant(modules=("rfm",))
    _shop(gx, tenant, customers=80, seed=3)
    _score(gx, tenant)
    grid = _grid(graphql, tenant)
    rows = _stored(gx, tenant)
    assert (grid["scheme"], grid["k"], grid["scored"], grid["unscored"]) == ("RF_GRID_10", 5, 80, 3)

    counts = Counter((row.r_score, row.f_score) for row in rows)
    revenue, recency, frequency = defaultdict(Decimal), defaultdict(list), defaultdict(list)
    for row in rows:
        revenue[row.r_score, row.f_score] += Decimal(row.monetary)
        recency[row.r_score, row.f_score].append(row.recency_days)
        frequency[row.r_score, row.f_score].append(row.frequency)
    total = sum(revenue.values())

    assert [(c["rScore"], c["fScore"]) for c in grid["cells"]] == [(r, f) for r in range(1, 6) for f in range(1, 6)]
    assert sum(c["customers"] for c in grid["cells"]) == 80
    assert len([c for c in grid["cells"] if c["customers"]]) >= 8  # the data spreads over the grid
    for cell in grid["cells"]:
        key = cell["rScore"], cell["fScore"]
        assert cell["customers"] == counts.get(key, 0), key
        assert Decimal(cell["revenue"]) == revenue.get(key, Decimal(0)).quantize(Decimal("0.01")), key
        assert abs(cell["shareOfCustomers"] - counts.get(key, 0) / 83) < 1e-12
        assert abs(cell["shareOfRevenue"] - float(revenue.get(key, 0) / total)) < 1e-12
        assert cell["segment"]["code"] == DOC_GRID[cell["rScore"]][cell["fScore"] - 1]
        if counts.get(key):
            assert abs(cell["avgRecencyDays"] - sum(recency[key]) / counts[key]) < 1e-6
            assert abs(cell["avgFrequency"] - sum(frequency[key]) / counts[key]) < 1e-9
            assert Decimal(cell["avgMonetary"]) == (revenue[key] / counts[key]).quantize(Decimal("0.01"))
        else:
            assert (cell["avgRecencyDays"], cell["avgFrequency"], cell["avgMonetary"]) == (None, None, None)
    assert {c["segment"]["label"] for c in grid["cells"] if (c["rScore"], c["fScore"]) == (5, 5)} == {"Champions"}


def test_a_cells_customers_are_exactly_the_stored_rows_with_those_scores_page_by_page(gx, make_tenant, graphql):
    tenant = make_tenant(modules=("rfm",))
    names = _shop(gx, tenant, customers=60, seed=5)
    _score(gx, tenant)
    rows = _stored(gx, tenant)
    client = graphql(tenant, "VIEWER")
    from api.ids import decode_id

    cells = Counter((row.r_score, row.f_score) for row in rows)
    # The fullest cell (more than one page of 5) and two small ones.
    chosen = [cells.most_common()[0][0], *[cell for cell, n in cells.items() if n < 5][:2]]
    assert cells[chosen[0]] > 5
    for r, f in chosen:
        expected = {row.customer_id: row for row in rows if (row.r_score, row.f_score) == (r, f)}
        seen, after = [], None
        while True:
            page = client.execute(CELL, {"r": r, "f": f, "after": after})["data"]["customers"]
            assert page["totalCount"] == len(expected)
            seen += [e["node"] for e in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
        ids = [decode_id(node["id"], "Customer") for node in seen]
        assert sorted(ids) == sorted(expected)
        assert all(names[i] == node["name"] for i, node in zip(ids, seen))
        assert all((node["rfm"]["rScore"], node["rfm"]["fScore"]) == (r, f) for node in seen)
        spent = [Decimal(node["rfm"]["monetary"]) for node in seen]
        assert spent == sorted(spent, reverse=True)  # biggest spenders of the cell first


def test_each_tenant_sees_its_own_grid_and_cells(gx, make_tenant, graphql):
    mine, theirs = make_tenant(modules=("rfm",)), make_tenant(modules=("rfm",))
    _shop(gx, mine, customers=20, seed=8)
    other_names = _shop(gx, theirs, customers=50, seed=9)
    _score(gx, mine)
    _score(gx, theirs)
    grid = _grid(graphql, mine)
    assert grid["scored"] == 20 and sum(c["customers"] for c in grid["cells"]) == 20
    client = graphql(mine, "VIEWER")
    for cell in grid["cells"]:
        page = client.execute(CELL, {"r": cell["rScore"], "f": cell["fScore"]})["data"]["customers"]
        assert page["totalCount"] == cell["customers"]
        assert not {e["node"]["name"] for e in page["edges"]} & set(other_names.values())
    assert sum(c["customers"] for c in _grid(graphql, theirs)["cells"]) == 50


def test_before_the_first_run_the_grid_is_empty_and_without_the_module_it_does_not_exist(gx, make_tenant, graphql):
    tenant = make_tenant(modules=("rfm",))
    _shop(gx, tenant, customers=5, seed=1)
    assert _grid(graphql, tenant) == {"scheme": None, "k": None, "computedAt": None, "scored": 0, "unscored": 0, "cells": []}
    without = make_tenant()
    response = graphql(without, "ADMIN").post(GRID)
    assert response.status_code == 400 and "rfmGrid" in response.json()["errors"][0]["message"]


def test_another_k_and_scheme_give_k_by_k_cells_without_grid_segments(gx, make_tenant, graphql):
    tenant = make_tenant(modules=("rfm",))
    _shop(gx, tenant, customers=40, seed=11)
    _score(gx, tenant, scheme="RFM_MEAN_8", k=3)
    grid = _grid(graphql, tenant)
    counts = Counter((row.r_score, row.f_score) for row in _stored(gx, tenant))
    assert (grid["scheme"], grid["k"]) == ("RFM_MEAN_8", 3)
    assert [(c["rScore"], c["fScore"], c["customers"]) for c in grid["cells"]] == [
        (r, f, counts.get((r, f), 0)) for r in range(1, 4) for f in range(1, 4)]
    assert all(c["segment"] is None for c in grid["cells"])
    # k = 10 on the grid scheme: scores are mapped onto the 1-5 grid (docs/rfm.md).
    _score(gx, tenant, scheme="RF_GRID_10", k=10)
    cells = {(c["rScore"], c["fScore"]): c["segment"]["code"] for c in _grid(graphql, tenant)["cells"]}
    assert len(cells) == 100
    assert (cells[10, 10], cells[9, 7], cells[1, 10], cells[10, 1], cells[5, 5]) == (
        "CHAMPIONS", "CHAMPIONS", "CANT_LOSE", "NEW", "NEED_ATTENTION")
