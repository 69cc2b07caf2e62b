"""The RFM and CLV pages in Chromium on the demo tenant: the heat map and its
drill-down (by a click on the chart, by keyboard through the cell table, by
address, by segment) list exactly the customers the API gives for that cell;
the CLV page draws its histogram and ranks customers by predicted value;
each page draws in at most two requests, in Chinese and in English, with no
console error, no failed request and nothing off the host."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from tests.browser.harness import WAIT_MS

GRID = "{ rfmGrid { k cells { rScore fScore customers segment { code } } } }"
CELL = """query($where: CustomerWhere!, $after: String) {
  customers(first: 20, after: $after, where: $where, orderBy: {field: RFM_MONETARY, direction: DESC}) {
    totalCount pageInfo { endCursor } edges { node { id } } } }"""
TOP = """{ customers(first: 40, orderBy: {field: CLV_PREDICTED_VALUE, direction: DESC}, where: {clv: {valueDecile: {gte: 1}}}) {
  edges { node { id clv { predictedValue } } } }
  clvDistribution { customers buckets { customers } } }"""


def cell_where(r: int, f: int) -> dict:
    return {"rfm": {"rScore": {"eq": r}, "fScore": {"eq": f}}}


def api_ids(client, where: dict, pages: int = 1) -> tuple[int, list[list[str]]]:
    out, after, total = [], None, 0
    for _ in range(pages):
        page = client.execute(CELL, {"where": where, "after": after})["data"]["customers"]
        total, after = page["totalCount"], page["pageInfo"]["endCursor"]
        out.append([e["node"]["id"] for e in page["edges"]])
    return total, out


def listed_ids(tab, testid: str) -> list[str]:
    hrefs = tab.page.get_by_test_id(testid).locator("tbody a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert all(h.startswith("#/customer/") for h in hrefs)
    return [unquote(h.removeprefix("#/customer/")) for h in hrefs]


def wait_for_list(tab, title_part: str) -> None:
    tab.page.get_by_test_id("rfm-drill-title").filter(has_text=title_part).wait_for(timeout=WAIT_MS)
    tab.page.wait_for_function("() => !document.querySelector('[data-testid=rfm-drill][aria-busy]')", timeout=WAIT_MS)


def clean(tab) -> None:
    assert tab.console_errors == [] and tab.failed == [] and tab.off_host() == [] and tab.blocked == []


@pytest.fixture
def grid(demo, graphql) -> dict:
    data = graphql(demo["slug"], "VIEWER").execute(GRID)["data"]["rfmGrid"]
    assert data["k"] == 5 and sum(c["customers"] for c in data["cells"]) > 0
    return data


def test_clicking_a_heatmap_cell_lists_exactly_that_cells_customers_page_by_page(console, demo, graphql, grid):
    tab = console()
    tab.sign_in(demo["keys"]["VIEWER"])
    tab.open("rfm")
    assert tab.last_page()["requests"] <= 2
    tab.page.locator("[data-testid=rfm-heatmap][data-drawn] svg").wait_for(timeout=WAIT_MS)
    # The fullest cell: more than one page of customers.
    cell = max(grid["cells"], key=lambda c: c["customers"])
    r, f = cell["rScore"], cell["fScore"]
    assert cell["customers"] > 20
    tab.page.get_by_test_id("rfm-heatmap").scroll_into_view_if_needed()
    box = tab.page.get_by_test_id("rfm-heatmap").bounding_box()
    x, y = tab.page.evaluate(
        "([f, r]) => echarts.getInstanceByDom(document.querySelector('[data-testid=rfm-heatmap]')).convertToPixel({seriesIndex: 0}, [f - 1, r - 1])",
        [f, r])
    tab.page.mouse.click(box["x"] + x, box["y"] + y)
    wait_for_list(tab, f"R{r} · F{f}")
    assert tab.page.evaluate("() => location.hash") == f"#/rfm/{r}/{f}"

    total, (first, second) = api_ids(graphql(demo["slug"], "VIEWER"), cell_where(r, f), pages=2)
    assert total == cell["customers"]
    assert listed_ids(tab, "rfm-customers") == first
    tab.page.get_by_test_id("rfm-next").click()
    tab.page.wait_for_function("(id) => !document.querySelector(`[data-testid=rfm-customers] a[href=\"#/customer/${id}\"]`)", arg=first[0],
                               timeout=WAIT_MS)
    assert listed_ids(tab, "rfm-customers") == second
    tab.page.get_by_test_id("rfm-prev").click()
    tab.page.wait_for_function("(id) => !!document.querySelector(`[data-testid=rfm-customers] a[href=\"#/customer/${id}\"]`)", arg=first[0],
                               timeout=WAIT_MS)
    assert listed_ids(tab, "rfm-customers") == first
    clean(tab)


def test_the_drill_down_works_from_the_keyboard_by_address_and_by_segment(console, demo, graphql, grid):
    client = graphql(demo["slug"], "VIEWER")
    tab = console()
    tab.sign_in(demo["keys"]["ANALYST"])
    tab.open("rfm")
    # Keyboard: open the cell table and press Enter on a cell's link.
    small = min((c for c in grid["cells"] if c["customers"]), key=lambda c: c["customers"])
    r, f = small["rScore"], small["fScore"]
    tab.page.get_by_test_id("rfm-cells-toggle").focus()
    tab.page.keyboard.press("Enter")
    link = tab.page.get_by_test_id(f"rfm-cell-{r}-{f}")
    assert link.inner_text().replace(",", "") == str(small["customers"])
    link.focus()
    tab.page.keyboard.press("Enter")
    wait_for_list(tab, f"R{r} · F{f}")
    assert listed_ids(tab, "rfm-customers") == api_ids(client, cell_where(r, f))[1][0]
    assert link.get_attribute("aria-current") == "true"

    # By address: the page draws the grid and the cell's customers in two requests.
    busy = max(grid["cells"], key=lambda c: c["customers"])
    tab.open(f"rfm/{busy['rScore']}/{busy['fScore']}")
    assert tab.last_page()["requests"] == 2
    assert listed_ids(tab, "rfm-customers") == api_ids(client, cell_where(busy["rScore"], busy["fScore"]))[1][0]

    # A segment's row: the customers of every cell of the segment.
    code = busy["segment"]["code"]
    tab.page.get_by_test_id(f"rfm-segment-{code}").click()
    wait_for_list(tab, "")
    tab.page.wait_for_function("() => location.hash.startsWith('#/rfm/segment/')", timeout=WAIT_MS)
    total, [ids] = api_ids(client, {"rfm": {"segment": {"eq": code}}})
    assert total == sum(c["customers"] for c in grid["cells"] if c["segment"]["code"] == code)
    tab.page.wait_for_function("(id) => !!document.querySelector(`[data-testid=rfm-customers] a[href=\"#/customer/${id}\"]`)", arg=ids[0],
                               timeout=WAIT_MS)
    assert listed_ids(tab, "rfm-customers") == ids

    tab.open("rfm/9/9")  # no such cell on a 1-5 grid
    assert tab.page.get_by_test_id("rfm-drill-bad").is_visible()
    clean(tab)


def test_the_clv_page_draws_the_histogram_and_ranks_customers_by_predicted_value(console, demo, graphql):
    expected = graphql(demo["slug"], "VIEWER").execute(TOP)["data"]
    nodes = [e["node"] for e in expected["customers"]["edges"]]
    values = [float(n["clv"]["predictedValue"]) for n in nodes]
    assert len(nodes) == 40 and values == sorted(values, reverse=True) and values[0] > values[-1]
    tab = console()
    tab.sign_in(demo["keys"]["VIEWER"])
    tab.open("clv")
    assert tab.last_page()["requests"] <= 2
    tab.page.locator("[data-testid=clv-histogram][data-drawn] svg").wait_for(timeout=WAIT_MS)
    # One bar per band (the chart draws its bars as paths; the table lists the same bands).
    tab.page.get_by_test_id("clv-buckets-toggle").click()
    assert tab.page.get_by_test_id("clv-buckets").locator("tbody tr").count() == len(expected["clvDistribution"]["buckets"])
    assert listed_ids(tab, "clv-top") == [n["id"] for n in nodes[:20]]
    tab.page.get_by_test_id("clv-more").click()
    tab.page.get_by_test_id("clv-top").locator("tbody tr").nth(39).wait_for(timeout=WAIT_MS)
    assert listed_ids(tab, "clv-top") == [n["id"] for n in nodes]
    assert tab.page.get_by_test_id("clv-model").is_visible()
    clean(tab)


@pytest.mark.parametrize("lang, rfm_words, clv_words", [
    ("zh", ["RFM 客户分层", "冠军客户", "建议动作"], ["客户终身价值", "客户预计价值分布", "预计价值最高的客户"]),
    ("en", ["RFM segments", "Champions", "Recommended action"], ["Customer lifetime value", "Predicted value per customer",
                                                                "Customers worth the most"]),
])
def test_both_pages_read_in_chinese_and_english(console, demo, lang, rfm_words, clv_words):
    tab = console()
    tab.context.add_init_script(f"localStorage.setItem('guanxi.console.lang', '{lang}')")  # before the console's scripts
    tab.sign_in(demo["keys"]["VIEWER"])
    for route, words in (("rfm", rfm_words), ("clv", clv_words)):
        tab.open(route)
        text = tab.page.locator("#view").inner_text()
        assert all(word in text for word in words), (route, words)
        assert "null" not in text and "undefined" not in text and "NaN" not in text
        assert tab.page.locator("#view .error").count() == 0
    clean(tab)


def test_before_any_run_both_pages_say_how_to_get_scores(console, make_tenant, make_key):
    tenant = make_tenant(modules=("rfm", "clv"))
    tab = console()
    tab.sign_in(make_key(tenant, "VIEWER"))
    for route in ("rfm", "clv"):
        tab.open(route)
        assert tab.page.get_by_test_id(f"{route}-none").is_visible()
        assert tab.last_page()["requests"] == 1 and tab.page.locator("#view .error").count() == 0
    clean(tab)
