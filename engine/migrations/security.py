"""PostgreSQL's second wall: row-level security on every tenant table.

Run by ``guanxi db upgrade`` after the migrations, in their transaction, on
every table the installed code owns, so a plugin's migration cannot forget
it. The application's sessions act as ``role``, which owns no table: each of
them sees only the rows of the tenant its transaction declares
(``guanxi.tenant_id``, set by engine/tenancy.py), or every row when the
engine declares ``all`` for its own cross-tenant work. A connection that
declares nothing sees nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from engine.tenancy import ALL_TENANTS, GLOBAL_MARK, TENANT_SETTING, tenant_column

POLICY = "guanxi_tenant_isolation"
_SETTING = f"current_setting('{TENANT_SETTING}', true)"
# Sub-selects: evaluated once per statement, not once per row.
_DECLARED_TENANT = f"(SELECT CASE WHEN {_SETTING} ~ '^[0-9]+$' THEN {_SETTING}::bigint END)"
_ALL = f"(SELECT {_SETTING} = '{ALL_TENANTS}')"


def policy_condition(column: str) -> str:
    return f'"{column}" = {_DECLARED_TENANT} OR {_ALL}'


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def secure(connection: sa.Connection, tables: Iterable[sa.Table], role: str) -> None:
    """Create ``role`` if missing, and give it the tables: tenant tables behind
    the isolation policy, global tables and the version table as they are."""
    existing = set(sa.inspect(connection).get_table_names())
    _ensure_role(connection, role)
    schema = connection.exec_driver_sql("SELECT current_schema()").scalar_one()
    connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA {_ident(schema)} TO {_ident(role)}")
    for table in tables:
        if table.name not in existing:
            continue
        name = _ident(table.name)
        column = tenant_column(table)
        if column is not None and not table.info.get(GLOBAL_MARK):
            connection.exec_driver_sql(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
            connection.exec_driver_sql(f"DROP POLICY IF EXISTS {POLICY} ON {name}")
            connection.exec_driver_sql(f"CREATE POLICY {POLICY} ON {name} USING ({policy_condition(column.name)})")
        connection.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {name} TO {_ident(role)}")
        for sequence in _sequences(connection, table):
            connection.exec_driver_sql(f"GRANT USAGE, SELECT ON SEQUENCE {sequence} TO {_ident(role)}")
    if "alembic_version" in existing:
        connection.exec_driver_sql(f"GRANT SELECT ON alembic_version TO {_ident(role)}")


def _ensure_role(connection: sa.Connection, role: str) -> None:
    exists = connection.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    if not exists:
        connection.exec_driver_sql(f"CREATE ROLE {_ident(role)} NOLOGIN")
    # The owner may log in for the application too (one URL): it then needs
    # to be able to SET ROLE to the application's role. Superusers can already.
    superuser, member = connection.execute(sa.text(
        "SELECT rolsuper, pg_has_role(current_user, :r, 'MEMBER') FROM pg_roles WHERE rolname = current_user"
    ), {"r": role}).one()
    if not superuser and not member:
        connection.exec_driver_sql(f"GRANT {_ident(role)} TO CURRENT_USER")


def _sequences(connection: sa.Connection, table: sa.Table) -> list[str]:
    found = []
    for column in table.primary_key.columns:
        sequence = connection.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                                      {"t": table.name, "c": column.name}).scalar()
        if sequence:
            found.append(sequence)
    return found


def unsecured_tables(connection: sa.Connection, tables: Iterable[sa.Table]) -> list[str]:
    """Tenant tables without row-level security or without the isolation policy."""
    wanted = [t.name for t in tables if tenant_column(t) is not None and not t.info.get(GLOBAL_MARK)]
    secured = set(connection.execute(sa.text(
        "SELECT c.relname FROM pg_class c JOIN pg_policies p ON p.schemaname = current_schema() AND p.tablename = c.relname AND p.policyname = :p "
        "WHERE c.relrowsecurity AND c.relnamespace = current_schema()::regnamespace AND c.relname = ANY(:names)"
    ), {"p": POLICY, "names": wanted}).scalars())
    return sorted(set(wanted) - secured)
