"""The public survey link: what one customer's answer costs; prints one JSON line.

Run with ``.venv/bin/python -m bench.satisfaction_link [--links 300] [--postgres-url URL]``.
For each of ``--links`` invitations (the 19-indicator survey) it opens the
survey (GET, JSON) and answers it (POST) through httpx on the ASGI app in
process, interleaved with ``GET /readyz`` (one database round trip, the
anchor) so host noise hits both alike. Keys: median and p90 milliseconds of
each, and ``get_vs_anchor`` / ``post_vs_anchor`` (median ratios), per backend
(``postgres`` is null when the database cannot be reached).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time

import httpx

from api.app import create_app
from engine.services.customers import create_customer
from engine.testing import engine_on, new_tenant
from plugins.satisfaction.invitations import invite
from plugins.satisfaction.surveys import create_survey

ANSWERS = {"PRODUCT__QUALITY": 5, "PRODUCT__PRICE": 4, "SERVICE__HUMANE": 4, "LOGISTICS__TRACKING": 3,
           "OVERALL": 4, "NPS": 9, "RECOMMEND": "YES", "COMMENT": "不错"}


def _ms(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"median_ms": round(statistics.median(ordered) * 1000, 2), "p90_ms": round(ordered[int(len(ordered) * 0.9)] * 1000, 2)}


async def _measure(url: str, links: int) -> dict:
    gx = engine_on(url)
    slug = new_tenant(gx, ("satisfaction",))
    with gx.tenant(slug) as ctx:
        ids = [create_customer(ctx, {"code": f"C{i}", "name": f"顾客{i}", "consent": {"WECHAT": True}}).id for i in range(links)]
        survey = create_survey(ctx, {"code": "CSI", "title_zh": "调查", "title_en": "Survey"})
        paths = [link.path for link in invite(ctx, survey.id, ids).links]
    app = create_app(gx)
    app.state.rate_limits.anonymous.limit = 0  # one address sends them all
    times: dict[str, list[float]] = {"anchor": [], "get": [], "post": []}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:

        async def timed(key: str, request, expect: int) -> None:
            start = time.perf_counter()
            response = await request
            times[key].append(time.perf_counter() - start)
            assert response.status_code == expect, response.text

        for path in paths:
            await timed("anchor", client.get("/readyz"), 200)
            await timed("get", client.get(path), 200)
            await timed("post", client.post(path, json={"answers": ANSWERS}), 201)
    anchor = statistics.median(times["anchor"])
    return {"anchor": _ms(times["anchor"]), "get": _ms(times["get"]), "post": _ms(times["post"]),
            "get_vs_anchor": round(statistics.median(times["get"]) / anchor, 1),
            "post_vs_anchor": round(statistics.median(times["post"]) / anchor, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", type=int, default=300)
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/guanxi_bench_satisfaction")
    args = parser.parse_args()
    import logging

    logging.getLogger("guanxi.access").setLevel(logging.WARNING)
    result = {"bench": "satisfaction_link", "links": args.links,
              "sqlite": asyncio.run(_measure(f"sqlite:///{tempfile.mkdtemp()}/link.db", args.links))}
    try:
        result["postgres"] = asyncio.run(_measure(args.postgres_url, args.links))
    except Exception as error:  # no server, no database: the SQLite figures still count
        result["postgres"], result["postgres_error"] = None, str(error).splitlines()[0]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
