"""Customer and interaction exports, read in keyset pages and written as they come.

Rows are read ``page_size`` at a time in primary-key order (``id > last``),
each page in its own short read transaction of the tenant, so memory stays
flat however many rows there are and no connection waits on a slow reader.
The modules the tenant has enabled add customer columns through
``guanxi_export_columns`` (one batched statement per page each).

The filter is a SQL condition on ``customers`` (the API's ``CustomerWhere``
turned into one by api/export_where.py), so exports select exactly what the
GraphQL ``customers`` query lists.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from engine.enums import InteractionKind
from engine.errors import FieldError, ValidationFailed
from engine.models import CUSTOMER_PERSONAL_FIELDS, Customer, Interaction
from engine.runtime import Guanxi
from engine.services import audit
from engine.services.customers import find_by_code, get_customer_or_none
from engine.services.export_columns import ExportColumns

PAGE_SIZE = 5000
FORMATS = ("csv", "xlsx")
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header
BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only when it starts with one

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
JSON_TEXT = ("tags", "consent", "attributes")  # read as JSON text
EMPTY_JSON = ("[]", "{}", "null", "", [], {})
INTERACTIONS = Interaction.__table__


# -- cell values -----------------------------------------------------------------------------


def safe_text(value: str) -> str:
    """Text a spreadsheet would run as a formula (``=``, ``@``, ``+`` or ``-``
    before a non-digit) gets a leading apostrophe (OWASP's CSV injection advice);
    phone numbers (``+86...``) and negative numbers are left alone."""
    if value and (value[0] in "=@\t\r" or (value[0] in "+-" and not value[1:2].isdigit())):
        return "'" + value
    return value


def _decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _tags(value: list | str) -> str | None:
    if value in EMPTY_JSON:
        return None
    return safe_text(LIST_SEPARATOR.join(str(tag) for tag in _decoded(value)))


def _consent(value: dict | str) -> str | None:
    if value in EMPTY_JSON:
        return None
    return LIST_SEPARATOR.join(channel for channel, given in _decoded(value).items() if given)


def _json(value: Any) -> str | None:
    if value in EMPTY_JSON:
        return None
    if isinstance(value, str):
        return value  # read as text already
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def plugin_cell(value: Any) -> Any:
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _converters(names: tuple[str, ...]) -> list[tuple[int, Callable]]:
    """(position, function) for the JSON columns, the only ones the database
    does not hand over as cell values already (see ``cell_columns``)."""
    convert = {"tags": _tags, "consent": _consent, "attributes": _json, "payload": _json}
    return [(i, convert[name]) for i, name in enumerate(names) if name in convert]


def cell_columns(names: tuple[str, ...], columns, dialect: str) -> list:
    """The columns as the database should hand them over: times as ISO 8601
    text, JSON as text, free text made safe from spreadsheet formulas. Done in
    SQL, because per value in Python it was most of an export's time."""
    out = []
    for name, column in zip(names, columns):
        if name in JSON_TEXT:
            column = sa.cast(column, sa.Text)
        elif _python_type(column) is datetime:
            column = _iso_text(column, dialect)
        elif _python_type(column) is date:
            column = sa.cast(column, sa.Text)
        elif name in TEXT_COLUMNS:
            column = _safe_text_sql(column)
        out.append(column.label(name))
    return out


def _iso_text(column, dialect: str):
    """``2026-01-05T02:00:00.000000+00:00`` on both databases."""
    if dialect == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"', type_=sa.Text)
    # SQLite keeps naive UTC text, "2026-01-05 02:00:00.000000" (engine/types.py)
    return sa.func.replace(sa.cast(column, sa.Text), " ", "T", type_=sa.Text) + "+00:00"


def _safe_text_sql(column):
    """``safe_text`` in SQL."""
    first, second = sa.func.substr(column, 1, 1, type_=sa.Text), sa.func.substr(column, 2, 1, type_=sa.Text)
    risky = sa.or_(first.in_(("=", "@", "\t", "\r")),
                   sa.and_(first.in_(("+", "-")), second.not_in([str(d) for d in range(10)])))
    return sa.case((risky, sa.literal("'", sa.Text) + column), else_=column)


def _python_type(column) -> type | None:
    kind = column.type
    kind = getattr(kind, "impl_instance", kind)  # a TypeDecorator (UtcDateTime): the type it stores as
    try:
        return kind.python_type
    except NotImplementedError:
        return None


def _convert(rows, converters) -> list[list]:
    out = []
    for row in rows:
        row = list(row)
        for i, convert in converters:
            value = row[i]
            if value is not None:
                row[i] = convert(value)
        out.append(row)
    return out


# -- exports ------------------------------------------------------------------------------


@dataclass
class Export:
    """An export under way: its header, its pages of rows (read lazily), and
    how many rows have gone out so far."""

    kind: str
    header: list[str]
    pages: Iterator[list[list]] = field(repr=False)
    filters: dict = field(default_factory=dict)  # what was asked, for the audit trail (no free text)
    rows: int = 0

    def __iter__(self) -> Iterator[list[list]]:
        for page in self.pages:
            self.rows += len(page)
            yield page


def plugin_columns(gx: Guanxi, tenant_id: int) -> list[ExportColumns]:
    with gx.tenant(tenant_id, write=False) as ctx:
        found: list[ExportColumns] = []
        for result in ctx.hooks.guanxi_export_columns(ctx=ctx):
            found.extend(result if isinstance(result, (list, tuple)) else [result])
    return found


def customer_export(gx: Guanxi, tenant_id: int, condition: sa.ColumnElement | None = None,
                    filters: dict | None = None, page_size: int | None = None) -> Export:
    """The tenant's live customers matching ``condition`` (all when None), in id order."""
    page_size = page_size or PAGE_SIZE
    extras = plugin_columns(gx, tenant_id)
    header = list(CUSTOMER_COLUMNS) + [name for extra in extras for name in extra.names]
    # Core columns (the ORM's row loading took a third of the time), values
    # formatted by the database.
    table = Customer.__table__
    columns = cell_columns(CUSTOMER_COLUMNS, [table.c[name] for name in CUSTOMER_COLUMNS], gx.engine.dialect.name)
    converters = _converters(CUSTOMER_COLUMNS)
    personal = [i for i, name in enumerate(CUSTOMER_COLUMNS) if name in CUSTOMER_PERSONAL_FIELDS]
    erased_at = CUSTOMER_COLUMNS.index("erased_at")
    query = sa.select(*columns).where(
        table.c.tenant_id == tenant_id, table.c.deleted_at.is_(None), condition if condition is not None else sa.true(),
    ).order_by(table.c.id).limit(page_size)

    def pages() -> Iterator[list[list]]:
        last = 0
        while True:
            with gx.tenant_session(tenant_id) as session:
                rows = session.execute(query.where(table.c.id > last)).all()
                if not rows:
                    return
                page = _convert(rows, converters)
                ids = [row[0] for row in page]
                for extra in extras:
                    _append_plugin_columns(page, ids, extra, extra.load(session, ids))
            for row in page:
                if row[erased_at] is not None:  # erasure cleared these already; never let one out
                    for i in personal:
                        row[i] = None
            last = ids[-1]
            yield page
            if len(rows) < page_size:
                return

    return Export("customers", header, pages(), filters or {})


def _append_plugin_columns(page: list[list], ids: list[int], extra: ExportColumns, values: dict) -> None:
    blank = (None,) * len(extra.names)
    for row, customer_id in zip(page, ids):
        found = values.get(customer_id)
        row.extend(blank if found is None else (plugin_cell(v) for v in found))


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
    page_size = page_size or PAGE_SIZE
    where = where or InteractionFilter()
    table, customers = INTERACTIONS, Customer.__table__
    columns = [table.c.id, table.c.customer_id, customers.c.code] + [table.c[name] for name in INTERACTION_COLUMNS[3:]]
    columns = cell_columns(INTERACTION_COLUMNS, columns, gx.engine.dialect.name)
    converters = _converters(INTERACTION_COLUMNS)
    query = (
        sa.select(*columns)
        .join(customers, customers.c.id == table.c.customer_id)
        .where(table.c.tenant_id == tenant_id, customers.c.tenant_id == tenant_id, *where.conditions())
        .order_by(table.c.id)
        .limit(page_size)
    )

    def pages() -> Iterator[list[list]]:
        last = 0
        while True:
            with gx.tenant_session(tenant_id) as session:
                rows = session.execute(query.where(table.c.id > last)).all()
            if not rows:
                return
            last = rows[-1][0]
            yield _convert(rows, converters)
            if len(rows) < page_size:
                return

    return Export("interactions", list(INTERACTION_COLUMNS), pages(), where.described())


# -- writing -------------------------------------------------------------------------------


def check_format(fmt: str) -> str:
    fmt = (fmt or "csv").lower()
    if fmt not in FORMATS:
        raise ValidationFailed([FieldError("format", f"must be one of {', '.join(FORMATS)}, not {fmt!r}")])
    return fmt


def csv_chunks(export: Export) -> Iterator[bytes]:
    """The export as UTF-8 CSV with a BOM, one chunk of bytes per page."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow(export.header)
    for page in export:
        writer.writerows(page)
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # no rows: the header alone
        yield buffer.getvalue().encode("utf-8")


def write_csv(export: Export, out: BinaryIO) -> int:
    for chunk in csv_chunks(export):
        out.write(chunk)
    return export.rows


def write_xlsx(export: Export, out: BinaryIO | str) -> int:
    """The export as one sheet of an XLSX workbook, in openpyxl's write-only
    mode (rows go to a temporary file as they come; the workbook is zipped at
    the end). Text is always written as text, never as a formula."""
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
        for page in export:
            if export.rows > XLSX_MAX_ROWS:
                raise ValidationFailed([FieldError(
                    "format", f"an XLSX sheet holds at most {XLSX_MAX_ROWS:,} rows; export this many as CSV", "TOO_LARGE")])
            for row in page:
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
