"""The long fuzz run: the CI fuzz suite's strategies (tests/security/fuzzing.py),
many more examples, failures counted instead of stopping at the first.

Run with ``.venv/bin/python -m bench.fuzz [--examples 5000] [--seed N]`` from
the source checkout (it imports the test helpers). It seeds a tenant with
every module on in GUANXI_DATABASE_URL or a temporary SQLite file, sends
generated queries and mutations with hostile arguments through the real app
(httpx ASGI transport) with keys of every role, and prints one JSON line:
``{"examples", "failures", "seconds", "healthz", "database", "first_failures"}``.
A failure is a 5xx, an INTERNAL_SERVER_ERROR, an error without a code, or an
ERROR line in the app's logs; /healthz must still answer at the end. The
inputs that once failed the server (tests/security/edge_cases.py: NUL and
lone surrogates, calendar-edge dates, amounts and points past their columns,
a 70,000-value IN list, operationName edge cases) are sent first and counted
in ``edge_cases`` and ``edge_failures``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=None, help="fixed seed (default: random)")
    args = parser.parse_args(argv)

    import anyio.from_thread
    from hypothesis import HealthCheck, given, seed, settings
    from hypothesis import strategies as st

    from api.app import create_app
    from engine.config import Settings
    from engine.db import make_engine
    from engine.plugins.manager import get_plugin_manager
    from engine.runtime import Guanxi
    from tests.security import edge_cases, fuzzing, gqlgen
    from tests.security.conftest import GENERATED_QUERY_BUDGETS, ROLES, LogCapture, SyncClient, harvest_tenant, introspect
    from tests.security.conftest import seed as seed_tenant

    url = os.environ.get("GUANXI_DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp(prefix='guanxi-fuzz-')}/fuzz.db"
    # Protection on; but a few keys send thousands of requests a minute of generated
    # queries that select everything, and a refused request would test nothing:
    # their rates are counted, never reached, and their costs reported, never refused.
    settings_ = Settings(database_url=url, rate_limits=",".join(f"{role}=100000000" for role in ROLES),
                         query_cost_budgets=GENERATED_QUERY_BUDGETS)
    gx = Guanxi(settings=settings_, plugins=get_plugin_manager(), engine=make_engine(settings_))
    gx.upgrade()
    app = create_app(gx)
    logging.getLogger("guanxi.access").setLevel(logging.WARNING)  # keep stderr quiet; errors still captured
    capture = LogCapture()
    logging.getLogger().addHandler(capture)
    failures: list[dict] = []
    count = {"n": 0}
    started = time.perf_counter()
    with anyio.from_thread.start_blocking_portal("asyncio") as portal:
        client = SyncClient(portal, app)
        tenant = seed_tenant(client, gx, customers=3)
        schema = introspect(client, tenant.keys["ADMIN"])
        own = gqlgen.Values(ids={"Customer": list(tenant.customer_ids)}, strings=tenant.values(),
                            module_names=sorted(gx.plugins.modules))
        ids, cursors, _ = harvest_tenant(client, tenant.keys["ADMIN"], schema, own)
        values = gqlgen.Values(ids={t: sorted(p)[:3] for t, p in ids.items()}, cursors=sorted(cursors)[:5],
                               strings=tenant.values(), module_names=sorted(gx.plugins.modules))

        edge = edge_cases.cases(tenant.customer_ids[0], tenant.marker)
        for case in edge:
            before = len(capture.errors())
            response = client.post(tenant.keys[case.role], case.query, case.variables, **case.extra)
            found = fuzzing.problems(response.status_code, response.text, capture.errors()[before:])
            if found:
                failures.append({"op": f"edge: {case.name}", "role": case.role, "problems": found,
                                 "query": case.query[:300], "response": response.text[:300]})
        edge_failures = len(failures)

        @settings(max_examples=args.examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(op=fuzzing.requests(schema, values), role=st.sampled_from(ROLES))
        def run(op, role):
            count["n"] += 1
            before = len(capture.errors())
            response = client.post(tenant.keys[role], op.query, fuzzing.safe_json(op.variables))
            found = fuzzing.problems(response.status_code, response.text, capture.errors()[before:])
            if found:
                failures.append({"op": op.name, "role": role, "problems": found, "query": op.query[:300],
                                 "variables": json.dumps(fuzzing.safe_json(op.variables), ensure_ascii=False, default=str)[:300],
                                 "response": response.text[:300]})

        if args.seed is not None:
            run = seed(args.seed)(run)
        run()
        healthz = client.request("GET", "/healthz").status_code
        client.close()
    result = {
        "examples": count["n"],
        "failures": len(failures),
        "edge_cases": len(edge),
        "edge_failures": edge_failures,
        "seconds": round(time.perf_counter() - started, 1),
        "healthz": healthz,
        "database": gx.engine.dialect.name,
        "first_failures": failures[:5],
    }
    print(json.dumps(result, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
