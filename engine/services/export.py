"""Customer and interaction exports: one SELECT, formatted by the database, streamed.

Everything an export writes comes from one SELECT: the core's columns and
the enabled modules' (their ``guanxi_export_columns`` selects LEFT JOINed
in), each value already formatted by the database (ISO 8601 times, money
with its cents, tags and consent joined with ``|``, text guarded against
spreadsheet formulas, erased customers' personal columns empty). Python
then only moves rows: on PostgreSQL the server writes the CSV itself
(``COPY (SELECT ...) TO STDOUT``) and the blocks are passed on; on SQLite a
raw cursor's ``fetchmany`` blocks go into ``csv.writer.writerows``. Memory
holds one block; the read is one transaction of the tenant (so
row-level security applies), open for the whole export.

The filter is a SQL condition on ``customers`` (the API's ``CustomerWhere``
turned into one by api/export_where.py), so exports select exactly what the
GraphQL ``customers`` query lists.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import aggregate_order_by

from engine.enums import Channel, InteractionKind
from engine.errors import FieldError, ValidationFailed
from engine.models import CUSTOMER_PERSONAL_FIELDS, Customer, Interaction
from engine.runtime import Guanxi
from engine.services import audit
from engine.services.customers import find_by_code, get_customer_or_none
from engine.services.export_columns import ExportColumns

PAGE_SIZE = 5000  # rows per block read and per chunk sent
FORMATS = ("csv", "xlsx")
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header
BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only when it starts with one
LINE_END = "\n"  # what PostgreSQL's COPY writes; the SQLite path writes the same

CUSTOMER_COLUMNS = (
    "id", "code", "name", "gender", "birthday", "phone", "email", "wechat_id", "region", "city", "occupation",
    "income_band", "skin_type", "preferences", "acquisition_channel", "preferred_channel", "price_sensitivity",
    "store", "owner", "role", "lifecycle_stage", "tags", "consent", "attributes", "referrer_id",
    "created_at", "updated_at", "erased_at", "first_purchase_at", "last_purchase_at",
    "purchase_count", "purchase_days", "total_spent", "refunded_amount",
)
INTERACTION_COLUMNS = (
    "id", "customer_id", "customer_code", "kind", "occurred_at", "channel", "store", "staff", "amount",
    "quantity", "external_id", "reverses_id", "payload", "recorded_at",
)
# Free text anyone could have typed: neutralised against spreadsheet formulas.
TEXT_COLUMNS = frozenset({
    "code", "name", "email", "wechat_id", "region", "city", "occupation", "income_band", "skin_type",
    "preferences", "store", "owner", "tags", "customer_code", "staff", "external_id",
})
LIST_SEPARATOR = "|"  # as the CSV import reads tags and consent
CONSENT_CHANNELS = tuple(channel.code for channel in Channel)  # the keys consent may hold
INTERACTIONS = Interaction.__table__
CUSTOMERS = Customer.__table__


# -- cell values, in SQL -------------------------------------------------------------------


def safe_text(value: str) -> str:
    """Text a spreadsheet would run as a formula (``=``, ``@``, ``+`` or ``-``
    before a non-digit) gets a leading apostrophe (OWASP's CSV injection advice);
    phone numbers (``+86...``) and negative numbers are left alone.
    (The export does this in SQL, ``_safe_text_sql``; this is its definition.)"""
    if value and (value[0] in "=@\t\r" or (value[0] in "+-" and not value[1:2].isdigit())):
        return "'" + value
    return value


def cell_columns(names, columns, dialect: str, guarded=TEXT_COLUMNS) -> list:
    """The columns as cells: times as ISO 8601 UTC text, dates as text, money
    with its cents, tags and consent as ``a|b``, JSON as text (empty when
    empty), the ``guarded`` text made safe from spreadsheet formulas (all text
    when ``guarded`` is None). Done in SQL, so that no value passes through
    Python on its way to the file."""
    out = []
    for name, column in zip(names, columns):
        kind = _python_type(column)
        if name == "tags":
            column = _joined_tags(column, dialect)
        elif name == "consent":
            column = _given_consents(column, dialect)
        elif name in ("attributes", "payload"):
            text = sa.cast(column, sa.Text)
            column = sa.case((text.in_(("{}", "[]", "null", "")), sa.null()), else_=text)
        elif kind is datetime:
            column = _iso_text(column, dialect)
        elif kind is date:
            column = sa.cast(column, sa.Text)
        elif kind is Decimal and dialect == "sqlite" and getattr(column.type, "scale", None):
            # SQLite keeps money as REAL: print its cents as PostgreSQL's numeric does
            column = sa.case((column.is_(None), sa.null()),
                             else_=sa.func.printf(f"%.{column.type.scale}f", column, type_=sa.Text))
        elif kind is str and (guarded is None or name in guarded):
            column = _safe_text_sql(column, dialect)
        out.append(column.label(name))
    return out


def _iso_text(column, dialect: str):
    """ISO 8601 in UTC, to the microsecond: ``2026-01-05T02:00:00.000000+00:00``
    on SQLite; PostgreSQL's own text of the time, which leaves out a fraction's
    trailing zeros (``2026-01-05T02:00:00+00:00``, ``...02:00:00.5+00:00``):
    a third of the cost of ``to_char`` (the export's read sets DateStyle ISO)."""
    if dialect == "postgresql":
        return sa.func.replace(sa.cast(sa.func.timezone("UTC", column), sa.Text), " ", "T", type_=sa.Text) + "+00:00"
    # SQLite keeps naive UTC text, "2026-01-05 02:00:00.000000" (engine/types.py)
    return sa.func.replace(sa.cast(column, sa.Text), " ", "T", type_=sa.Text) + "+00:00"


def _safe_text_sql(column, dialect: str):
    """``safe_text`` in SQL, on character codes (comparing text would go
    through the database's collation, several times slower)."""
    code = sa.func.ascii if dialect == "postgresql" else sa.func.unicode
    first, second = code(column), sa.func.coalesce(code(sa.func.substr(column, 2, 1)), 0)
    risky = sa.or_(first.in_([ord(c) for c in "=@\t\r"]),
                   sa.and_(first.in_([ord("+"), ord("-")]), sa.not_(second.between(ord("0"), ord("9")))))
    # Letters, digits and CJK (codes above "@") are let through on the first test.
    return sa.case((first > ord("@"), column), (risky, sa.literal("'", sa.Text) + column), else_=column)


def _joined_tags(column, dialect: str):
    """A JSON list as ``a|b`` in its order, formula-guarded (NULL when empty),
    the list read once per row: the guard looks at the joined text's first
    characters, and the database computes one aggregate however often it is named."""
    if dialect == "postgresql":
        items = sa.func.jsonb_array_elements_text(column).table_valued("item", with_ordinality="n").render_derived()
        joined = sa.func.string_agg(items.c.item, aggregate_order_by(sa.literal(LIST_SEPARATOR, sa.Text), items.c.n))
        empty = sa.func.jsonb_array_length(column) == 0
    else:
        items = sa.func.json_each(column).table_valued("value")
        joined = sa.func.group_concat(items.c.value, LIST_SEPARATOR)
        empty = sa.func.json_array_length(column) == 0
    listed = sa.select(_safe_text_sql(sa.type_coerce(joined, sa.Text), dialect)).scalar_subquery()
    return sa.case((empty, sa.null()), else_=listed)


def _given_consents(column, dialect: str):
    """The channels a ``{channel: true|false}`` object says yes to, as ``a|b``
    (NULL when none). On PostgreSQL a test per channel code: several times
    faster than expanding the object per row."""
    if dialect == "postgresql":
        given = [sa.case((column.op("->")(sa.literal(code, sa.Text)) == sa.literal_column("'true'::jsonb"), code))
                 for code in CONSENT_CHANNELS]
        return sa.func.nullif(sa.func.concat_ws(LIST_SEPARATOR, *given), "")
    pairs = sa.func.json_each(column).table_valued("key", "type")
    return sa.select(sa.func.group_concat(pairs.c.key, LIST_SEPARATOR)).where(pairs.c.type == "true").scalar_subquery()


def _python_type(column) -> type | None:
    kind = column.type
    kind = getattr(kind, "impl_instance", kind)  # a TypeDecorator (UtcDateTime): the type it stores as
    try:
        return kind.python_type
    except NotImplementedError:
        return None


def _erased_empty(column, name: str):
    """Erasure cleared these already; never let one out should it be found filled."""
    return sa.case((CUSTOMERS.c.erased_at.is_(None), column), else_=sa.null()).label(name)


# -- exports ------------------------------------------------------------------------------


@dataclass
class Export:
    """An export to run: its header, the one SELECT that makes its rows, and
    how many rows have gone out so far."""

    kind: str
    header: list[str]
    gx: Guanxi = field(repr=False)
    tenant_id: int
    query: sa.Select = field(repr=False)
    filters: dict = field(default_factory=dict)  # what was asked, for the audit trail (no free text)
    page_size: int = 0
    decimal_columns: tuple[int, ...] = ()  # positions of money, which SQLite hands over as text
    rows: int = 0

    def blocks(self) -> Iterator[list[tuple]]:
        """The rows as tuples of cells, ``page_size`` at a time (a server-side
        cursor on PostgreSQL, so memory holds one block)."""
        with self.gx.tenant_session(self.tenant_id) as session:
            connection = _read_connection(session)
            sql, params = dbapi_statement(self.query, connection.dialect)
            driver = connection.connection.driver_connection
            postgres = connection.dialect.name == "postgresql"
            cursor = driver.cursor(name="guanxi_export") if postgres else driver.cursor()
            try:
                cursor.execute(sql, params)
                while block := cursor.fetchmany(self.page_size or PAGE_SIZE):
                    self.rows += len(block)
                    yield block
            finally:
                cursor.close()

    def copy_blocks(self) -> Iterator[bytes]:
        """PostgreSQL: the rows as CSV written by the server (``COPY ... TO
        STDOUT``), ``page_size`` rows to a block. The statement runs in the
        tenant's transaction, so row-level security holds as for any read."""
        page_size = self.page_size or PAGE_SIZE
        with self.gx.tenant_session(self.tenant_id) as session:
            connection = _read_connection(session)
            sql, params = dbapi_statement(self.query, connection.dialect)
            driver = connection.connection.driver_connection
            # psycopg merges the parameters into the statement client-side
            # (COPY takes no bind parameters), quoting them as literals.
            with driver.cursor().copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", params) as copy:
                lines: list = []
                try:
                    for line in copy:  # one message per row
                        lines.append(line)
                        if len(lines) == page_size:
                            self.rows += len(lines)
                            yield b"".join(lines)
                            lines = []
                except GeneratorExit:  # the reader stopped (a client hung up): stop the server too
                    driver.cancel_safe()
                    raise
                if lines:
                    self.rows += len(lines)
                    yield b"".join(lines)


def _read_connection(session) -> sa.Connection:
    """The tenant session's connection, with dates and times written as ISO
    text whatever the server's DateStyle (for this transaction only), and no
    statement timeout: the COPY lasts as long as the download (a silent
    server is still noticed: engine/pg_bounds.py)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL datestyle = 'ISO, YMD'")
        connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
    return connection


def dbapi_statement(query: sa.Select, dialect) -> tuple[str, Any]:
    """``query`` as the driver takes it: SQL text, and parameters with
    SQLAlchemy's type processing applied (UTC times, JSON), IN lists expanded."""
    compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    processors = compiled._bind_processors  # no public API hands these out
    values = {name: processors[name](value) if name in processors else value
              for name, value in compiled.construct_params().items()}
    if compiled.positional:
        return compiled.string, tuple(values[name] for name in compiled.positiontup)
    return compiled.string, values


def plugin_columns(gx: Guanxi, tenant_id: int) -> list[ExportColumns]:
    with gx.tenant(tenant_id, write=False) as ctx:
        found: list[ExportColumns] = []
        for result in ctx.hooks.guanxi_export_columns(ctx=ctx):
            found.extend(result if isinstance(result, (list, tuple)) else [result])
    return found


def customer_export(gx: Guanxi, tenant_id: int, condition: sa.ColumnElement | None = None,
                    filters: dict | None = None, page_size: int | None = None) -> Export:
    """The tenant's live customers matching ``condition`` (all when None), in id
    order, with the enabled modules' columns joined in."""
    dialect = gx.engine.dialect.name
    columns = cell_columns(CUSTOMER_COLUMNS, [CUSTOMERS.c[name] for name in CUSTOMER_COLUMNS], dialect)
    columns = [_erased_empty(column, name) if name in CUSTOMER_PERSONAL_FIELDS else column
               for name, column in zip(CUSTOMER_COLUMNS, columns)]
    header, joined, money = list(CUSTOMER_COLUMNS), CUSTOMERS, [CUSTOMERS.c[name] for name in CUSTOMER_COLUMNS]
    for i, extra in enumerate(plugin_columns(gx, tenant_id)):
        values = extra.select.subquery(f"module_{i}")
        joined = joined.outerjoin(values, values.c.customer_id == CUSTOMERS.c.id)
        names = extra.names
        columns += cell_columns(names, [values.c[name] for name in names], dialect, guarded=None)
        header += names
        money += [values.c[name] for name in names]
    query = (
        sa.select(*columns).select_from(joined)
        .where(CUSTOMERS.c.tenant_id == tenant_id, CUSTOMERS.c.deleted_at.is_(None),
               condition if condition is not None else sa.true())
        .order_by(CUSTOMERS.c.id)
    )
    return Export("customers", header, gx, tenant_id, query, filters or {}, page_size or 0, _decimals(money))


def _decimals(columns) -> tuple[int, ...]:
    return tuple(i for i, column in enumerate(columns)
                 if _python_type(column) is Decimal and getattr(column.type, "scale", None))


@dataclass(frozen=True)
class InteractionFilter:
    """Interactions with ``since <= occurred_at < until``, of these kinds, of one customer."""

    since: datetime | None = None
    until: datetime | None = None
    kinds: tuple[str, ...] = ()
    customer_id: int | None = None

    def conditions(self) -> list[sa.ColumnElement]:
        out = []
        if self.since is not None:
            out.append(INTERACTIONS.c.occurred_at >= self.since)
        if self.until is not None:
            out.append(INTERACTIONS.c.occurred_at < self.until)
        if self.kinds:
            out.append(INTERACTIONS.c.kind.in_(self.kinds))
        if self.customer_id is not None:
            out.append(INTERACTIONS.c.customer_id == self.customer_id)
        return out

    def described(self) -> dict:
        out = {"since": self.since, "until": self.until, "kinds": list(self.kinds), "customer_id": self.customer_id}
        return {k: v for k, v in out.items() if v not in (None, [])}


def interaction_filter(ctx, since: str | None, until: str | None, kinds: list[str], customer: str | None) -> InteractionFilter:
    """The filter for options given as text (the CLI's, the endpoint's query
    parameters), or ValidationFailed naming the option."""
    zone = ZoneInfo(ctx.tenant.timezone)
    codes = []
    for kind in kinds:
        try:
            codes.append(InteractionKind.parse(kind).code)
        except ValueError as error:
            raise ValidationFailed([FieldError("kind", str(error))]) from None
    customer_id = None
    if customer is not None:
        found = find_by_code(ctx.session, ctx.tenant_id, customer)
        if found is None and customer.isascii() and customer.isdigit() and len(customer) < 19:
            found = get_customer_or_none(ctx.session, ctx.tenant_id, int(customer))
        if found is None:
            raise ValidationFailed([FieldError("customer", f"no customer with code or id {customer!r}", "NOT_FOUND")])
        customer_id = found.id
    start, stop = parse_time(since, "since", zone), parse_time(until, "until", zone, end=True)
    if start and stop and stop <= start:
        raise ValidationFailed([FieldError("until", "must be after since")])
    return InteractionFilter(since=start, until=stop, kinds=tuple(codes), customer_id=customer_id)


def parse_time(value: str | None, field: str, zone: ZoneInfo, end: bool = False) -> datetime | None:
    """ISO 8601; without an offset, the tenant's local time. A bare date is the
    start of that local day (for ``until``, of the next: the day is included)."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(), zone)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed([FieldError(field, f"{value!r} is not an ISO 8601 date or date-time "
                                                  "(2026-01-31 or 2026-01-31T18:00:00+08:00)")]) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def interaction_export(gx: Guanxi, tenant_id: int, where: InteractionFilter | None = None,
                       page_size: int | None = None) -> Export:
    """The tenant's interactions matching ``where``, in id (recording) order."""
    where = where or InteractionFilter()
    table = INTERACTIONS
    raw = [table.c.id, table.c.customer_id, CUSTOMERS.c.code] + [table.c[name] for name in INTERACTION_COLUMNS[3:]]
    columns = cell_columns(INTERACTION_COLUMNS, raw, gx.engine.dialect.name)
    query = (
        sa.select(*columns)
        .join(CUSTOMERS, CUSTOMERS.c.id == table.c.customer_id)
        .where(table.c.tenant_id == tenant_id, CUSTOMERS.c.tenant_id == tenant_id, *where.conditions())
        .order_by(table.c.id)
    )
    return Export("interactions", list(INTERACTION_COLUMNS), gx, tenant_id, query, where.described(),
                  page_size or 0, _decimals(raw))


# -- writing -------------------------------------------------------------------------------


def check_format(fmt: str) -> str:
    fmt = (fmt or "csv").lower()
    if fmt not in FORMATS:
        raise ValidationFailed([FieldError("format", f"must be one of {', '.join(FORMATS)}, not {fmt!r}")])
    return fmt


def csv_chunks(export: Export) -> Iterator[bytes]:
    """The export as UTF-8 CSV with a BOM, one chunk of bytes per block of
    rows (the header goes with the first)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=LINE_END)
    buffer.write(BOM)
    writer.writerow(export.header)
    header, sent = buffer.getvalue().encode("utf-8"), False
    if export.gx.engine.dialect.name == "postgresql":
        chunks = export.copy_blocks()
    else:
        chunks = _written(export.blocks(), buffer, writer)
    buffer.seek(0)
    buffer.truncate()
    for chunk in chunks:
        yield chunk if sent else header + chunk
        sent = True
    if not sent:  # no rows: the header alone
        yield header


def _written(blocks: Iterator[list[tuple]], buffer: io.StringIO, writer) -> Iterator[bytes]:
    for block in blocks:
        writer.writerows(block)
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()


def write_csv(export: Export, out: BinaryIO) -> int:
    for chunk in csv_chunks(export):
        out.write(chunk)
    return export.rows


def write_xlsx(export: Export, out: BinaryIO | str) -> int:
    """The export as one sheet of an XLSX workbook, in openpyxl's write-only
    mode (rows go to a temporary file as they come; the workbook is zipped at
    the end). Text is always written as text, never as a formula. Every cell
    passes through openpyxl in Python: several times slower than CSV."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(export.kind)
    sheet.append(export.header)

    def cell(value):
        if isinstance(value, str):
            text = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("", value))
            text.data_type = "s"  # a string starting with '=' would otherwise become a formula
            return text
        return value

    try:
        for block in export.blocks():
            if export.rows > XLSX_MAX_ROWS:
                raise ValidationFailed([FieldError(
                    "format", f"an XLSX sheet holds at most {XLSX_MAX_ROWS:,} rows; export this many as CSV", "TOO_LARGE")])
            for row in block:
                row = list(row)
                for i in export.decimal_columns:  # money as a number, not text
                    if isinstance(row[i], str):
                        row[i] = Decimal(row[i])
                sheet.append([cell(v) for v in row])
    except BaseException:
        sheet.close()  # finish the sheet's temporary file now, not when the collector finds it
        raise
    workbook.save(out)
    return export.rows


def record_export(gx: Guanxi, tenant_id: int, actor: str, export: Export, fmt: str, complete: bool) -> None:
    """Personal data leaving the system: who took what, how many rows (one audit event)."""
    with gx.tenant(tenant_id, actor=actor) as ctx:
        audit.record(ctx.session, ctx.tenant_id, actor, f"export.{export.kind}", "Export", None, {
            "format": fmt, "rows": export.rows, "complete": complete, "filters": export.filters,
        })
