"""A request's database work stops at its time budget (api/statement_budget.py)
and the client gets QUERY_TIMEOUT, never an INTERNAL_SERVER_ERROR or a hang."""

from __future__ import annotations

import threading

import anyio
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from api import statement_budget
from api.app import create_app
from api.errors import is_query_timeout
from engine.runtime import Guanxi
from engine.tenancy import system_role
from tests.api.conftest import codes

HANG_BOUND_S = 60  # a bound against hanging, not a speed check

# Runs for seconds on SQLite: a billion-row recursive count.
SQLITE_SLOW = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c"


def slow_statement(gx) -> str:
    return "SELECT pg_sleep(0.4)" if gx.engine.dialect.name == "postgresql" else SQLITE_SLOW


def run(gx, statement: str):
    with gx.engine.connect() as connection:
        return connection.exec_driver_sql(statement).scalar()


def test_a_statement_past_the_budget_is_stopped(gx):
    assert statement_budget.install(gx.engine)
    with statement_budget.within(150):
        with pytest.raises(DBAPIError) as stopped:
            run(gx, slow_statement(gx))
    assert is_query_timeout(stopped.value)


def test_the_budget_is_the_requests_not_each_statements(gx):
    """Two statements of 0.1 s each fit one at a time in 0.15 s, not both in one budget."""
    if gx.engine.dialect.name != "postgresql":
        pytest.skip("pg_sleep: PostgreSQL only (the SQLite case is the test above)")
    statement_budget.install(gx.engine)
    run(gx, "SELECT pg_sleep(0.1)")
    with statement_budget.within(150):
        run(gx, "SELECT pg_sleep(0.1)")
        with pytest.raises(DBAPIError) as stopped:
            run(gx, "SELECT pg_sleep(0.1)")
    assert is_query_timeout(stopped.value)


def test_work_outside_a_request_has_no_budget(gx):
    statement_budget.install(gx.engine)
    with statement_budget.within(150):
        pass
    statement = "SELECT pg_sleep(0.3)" if gx.engine.dialect.name == "postgresql" else (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c")
    assert run(gx, statement) in ("", None, 3_000_000)


@pytest.mark.anyio
async def test_a_request_held_up_past_its_budget_answers_query_timeout(gx, tenant, make_key, database_url):
    """A page of customers waits behind a lock another session holds on the table
    (PostgreSQL; on SQLite readers never wait for a writer) until its budget ends."""
    if gx.engine.dialect.name != "postgresql":
        pytest.skip("SQLite readers do not wait on locks; the progress handler is tested above")
    engine = Guanxi(settings=gx.settings.model_copy(update={"statement_timeout_ms": 300}), plugins=gx.plugins)
    app = create_app(engine)
    key = make_key(tenant, "VIEWER")
    owner = sa.create_engine(database_url)
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        with owner.begin() as connection:
            connection.exec_driver_sql("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
            locked.set()
            release.wait(HANG_BOUND_S)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(HANG_BOUND_S)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            with anyio.fail_after(HANG_BOUND_S):
                response = await client.post("/graphql", json={"query": "{ customers(first: 5) { edges { node { id } } } }"},
                                             headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 200
            body = response.json()
            assert codes(body) == ["QUERY_TIMEOUT"]
            assert "time budget" in body["errors"][0]["message"]
            release.set()
            holder.join(HANG_BOUND_S)
            again = await client.post("/graphql", json={"query": "{ customers(first: 5) { totalCount } }"},
                                      headers={"Authorization": f"Bearer {key}"})
            assert again.json()["data"]["customers"]["totalCount"] == 0
    finally:
        release.set()
        holder.join(HANG_BOUND_S)
        app.state.rate_limits.close()
        engine.engine.dispose()
        owner.dispose()


def test_the_timeout_comes_from_the_settings(gx):
    engine = Guanxi(settings=gx.settings.model_copy(update={"statement_timeout_ms": 1234}), plugins=gx.plugins)
    try:
        app = create_app(engine)
        graphql = next(r for r in app.routes if r.path == "/graphql").endpoint.__self__
        assert graphql.statement_timeout_ms == 1234
        app.state.rate_limits.close()
    finally:
        engine.engine.dispose()


def _opening_statements(gx, open_session) -> tuple[list[str], str, str, str]:
    """What a session sends before its first query, inside a 5 s budget; then
    the budget, tenant and role its query sees."""
    statements = []
    listener = lambda _c, _cur, statement, *_: statements.append(statement)  # noqa: E731
    sa.event.listen(gx.engine, "before_cursor_execute", listener)
    try:
        with statement_budget.within(5000), open_session() as session:
            seen = session.execute(sa.text(
                "SELECT current_setting('statement_timeout'), current_setting('guanxi.tenant_id', true), current_user"
            )).one()
    finally:
        sa.event.remove(gx.engine, "before_cursor_execute", listener)
    return statements[:-1], *seen


def test_a_transaction_opens_with_its_settings_in_one_statement(gx, tenant):
    """PostgreSQL: the request's budget goes with the session's tenant (or
    system role) in one set_config statement, and each is in effect."""
    if gx.engine.dialect.name != "postgresql":
        pytest.skip("transaction settings: PostgreSQL only")
    statement_budget.install(gx.engine)
    with gx.tenant(tenant, write=False) as ctx:
        tenant_id = ctx.tenant_id
    with gx.tenant_session(tenant_id) as session:  # the engine's own timeout, outside requests
        usual = session.execute(sa.text("SELECT current_setting('statement_timeout')")).scalar()
    opening, timeout, seen_tenant, _ = _opening_statements(gx, lambda: gx.tenant_session(tenant_id))
    assert len(opening) == 1 and opening[0].startswith("SELECT set_config("), opening
    assert timeout != usual and 0 < int(timeout.removesuffix("ms").removesuffix("s")) <= 5000
    assert seen_tenant == str(tenant_id)

    opening, timeout, _, role = _opening_statements(gx, gx.system)
    assert len(opening) == 1 and opening[0].startswith("SELECT set_config("), opening
    assert timeout != usual and role == system_role(gx.settings.db_app_role)

    # the next transaction on the pooled connection, outside a request: no budget left over
    with gx.tenant_session(tenant_id) as session:
        assert session.execute(sa.text("SELECT current_setting('statement_timeout')")).scalar() == usual
