"""PostgreSQL's second wall: row-level security on every tenant table.

Run by ``guanxi db upgrade`` after the migrations, in their transaction, on
every table the installed code owns, so a plugin's migration cannot forget
it. Two roles, neither owning a table:

- the application role (``GUANXI_DB_APP_ROLE``, ``guanxi_app``): each of
  its transactions sees only the rows of the tenant it declares
  (``guanxi.tenant_id``, set by engine/tenancy.py); one that declares
  nothing sees nothing;
- its system role (``guanxi_app_system``), which the engine's own
  cross-tenant transactions switch to (``SET LOCAL ROLE``): every row.

The application policy is a plain ``tenant_id = <declared tenant>``, so
PostgreSQL folds it into the query's own ``tenant_id = ?`` (a one-time
check, the query's index used as planned) or uses it as the index condition
of a query that forgot the tenant. An ``OR`` for the system's case in the
same policy made the planner misjudge every tenant query (a 100-customer
page took 55 ms in the database instead of 17). The application role does
not inherit the system role's rights (``NOINHERIT``): it must switch.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from engine.bulk import ANALYZE_FUNCTION
from engine.tenancy import GLOBAL_MARK, TENANT_SETTING, system_role, tenant_column

POLICY = "guanxi_tenant_isolation"
SYSTEM_POLICY = "guanxi_system_access"
# NULL (no row matches) when nothing is declared; only the engine sets it, to a tenant id.
DECLARED_TENANT = f"NULLIF(current_setting('{TENANT_SETTING}', true), '')::integer"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def secure(connection: sa.Connection, tables: Iterable[sa.Table], role: str) -> None:
    """Create the roles if missing, and give them the tables: tenant tables
    behind the policies, global tables and the version table as they are."""
    system = system_role(role)
    existing = set(sa.inspect(connection).get_table_names())
    _ensure_roles(connection, role, system)
    schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
    both = f"{_ident(role)}, {_ident(system)}"
    connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA {_ident(schema)} TO {both}")
    for table in tables:
        if table.name not in existing:
            continue
        name = _ident(table.name)
        column = tenant_column(table)
        if column is not None and not table.info.get(GLOBAL_MARK):
            connection.exec_driver_sql(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
            for policy in (POLICY, SYSTEM_POLICY):
                connection.exec_driver_sql(f"DROP POLICY IF EXISTS {policy} ON {name}")
            connection.exec_driver_sql(
                f"CREATE POLICY {POLICY} ON {name} TO {_ident(role)} USING ({_ident(column.name)} = {DECLARED_TENANT})")
            connection.exec_driver_sql(f"CREATE POLICY {SYSTEM_POLICY} ON {name} TO {_ident(system)} USING (true)")
        connection.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {both}")
        for sequence in _sequences(connection, table):
            connection.exec_driver_sql(f"GRANT USAGE, SELECT ON SEQUENCE {sequence} TO {both}")
    if "alembic_version" in existing:
        connection.exec_driver_sql(f"GRANT SELECT ON alembic_version TO {both}")
    # Only a table's owner may ANALYZE it: the bulk paths refresh the
    # planner's statistics through this function, which runs as the owner.
    connection.exec_driver_sql(
        f"CREATE OR REPLACE FUNCTION {ANALYZE_FUNCTION}(target regclass) RETURNS void LANGUAGE plpgsql "
        "SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$ BEGIN EXECUTE 'ANALYZE ' || target::text; END $$")
    connection.exec_driver_sql(f"REVOKE ALL ON FUNCTION {ANALYZE_FUNCTION}(regclass) FROM PUBLIC")
    connection.exec_driver_sql(f"GRANT EXECUTE ON FUNCTION {ANALYZE_FUNCTION}(regclass) TO {both}")


def _ensure_roles(connection: sa.Connection, role: str, system: str) -> None:
    for name in (role, system):
        exists = connection.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": name}).first()
        if not exists:
            connection.exec_driver_sql(f"CREATE ROLE {_ident(name)} NOLOGIN")
    # The application switches to the system role for the engine's own work,
    # without holding its rights (and its see-everything policy) otherwise.
    # Only when needed: roles belong to the whole server, and an ALTER ROLE
    # racing another database's upgrade fails ("tuple concurrently updated").
    inherits = connection.execute(sa.text("SELECT rolinherit FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar_one()
    if inherits:
        connection.exec_driver_sql(f"ALTER ROLE {_ident(role)} NOINHERIT")
    _grant_membership(connection, system, role)
    # SET ROLE is checked against the login: the owner may log in for the
    # application too (one URL). Superusers can already.
    me, superuser = connection.execute(sa.text(
        "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")).one()
    if not superuser:
        for name in (role, system):
            _grant_membership(connection, name, me)


def _grant_membership(connection: sa.Connection, granted: str, member: str) -> None:
    is_member = connection.execute(sa.text("SELECT pg_has_role(:member, :granted, 'MEMBER')"),
                                   {"member": member, "granted": granted}).scalar_one()
    if not is_member:
        connection.exec_driver_sql(f"GRANT {_ident(granted)} TO {_ident(member)}")


def _sequences(connection: sa.Connection, table: sa.Table) -> list[str]:
    found = []
    for column in table.primary_key.columns:
        sequence = connection.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                                      {"t": table.name, "c": column.name}).scalar()
        if sequence:
            found.append(sequence)
    return found


def has_analyze_function(connection: sa.Connection) -> bool:
    return connection.execute(sa.text("SELECT to_regprocedure(:f) IS NOT NULL"), {"f": f"{ANALYZE_FUNCTION}(regclass)"}).scalar_one()


def unsecured_tables(connection: sa.Connection, tables: Iterable[sa.Table]) -> list[str]:
    """Tenant tables without row-level security or without both policies."""
    wanted = [t.name for t in tables if tenant_column(t) is not None and not t.info.get(GLOBAL_MARK)]
    secured = set(connection.execute(sa.text(
        "SELECT c.relname FROM pg_class c JOIN pg_policies p ON p.schemaname = current_schema() "
        "AND p.tablename = c.relname AND p.policyname IN (:p, :s) "
        "WHERE c.relrowsecurity AND c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(:names) "
        "GROUP BY c.relname HAVING count(*) = 2"
    ), {"p": POLICY, "s": SYSTEM_POLICY, "names": wanted}).scalars())
    return sorted(set(wanted) - secured)
