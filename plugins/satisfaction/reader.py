"""One survey's responses as numpy columns, and the slices the analytics group them by.

Reading a million rows one Python tuple at a time costs more than all the
arithmetic after it, so the database hands them over in blocks of ids, each
block a few long values the database concatenated. Blocks: on SQLite
scanning the table, one query per range of 65,536 ids (read in id order; a
GROUP BY would sort every row first, a third more work); on SQLite through
the survey index, GROUP BY id / 1,024; on PostgreSQL, GROUP BY id / 65,536.
Values:

- the scale answers: the stored bytes of every row, one after the other
  (``group_concat`` cast back to a blob; ``string_agg`` of bytea), viewed as
  an n×k uint8 matrix;
- the four small answers and the month, packed in one integer per row
  (each answer + 1 in its own 4 bits, 0 = not answered, the month above them);
- store, channel and staff, only when a slice or filter needs them, as
  codes: their distinct values are read first, and each row's value becomes
  its position in the list of those values (``instr``/``strpos``), three
  positions packed in one integer;
- the customer id, only for the RFM segment or tier joins.

Integers travel as decimal text on SQLite (parsed by numpy in C) and as
8-byte big-endian binary on PostgreSQL (``int8send``). All the aggregates
of one group see its rows in the same order, so the columns line up.
Measured for 1,000,000 responses: docs/satisfaction-index.md.

RFM segments and loyalty tiers come from those modules' tables (rfm_scores,
loyalty_members) when the tenant has the module enabled, matched to the
responses by customer id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
from sqlalchemy.orm import Session

GROUPS = ("store", "channel", "staff", "month", "rfm_segment", "tier")
_TEXT_COLUMNS = ("store", "channel", "staff")
# Bits of the packed integer, lowest first: repurchase, recommend, nps, overall, then the month.
_PACKED = ("(CAST(COALESCE(local_month, 0) AS BIGINT) * 65536 + COALESCE(overall + 1, 0) * 4096 + COALESCE(nps + 1, 0) * 256 "
           "+ COALESCE(recommend + 1, 0) * 16 + COALESCE(repurchase + 1, 0))")
_SEPARATOR = "\x1f"  # between the distinct values in the position lookup; refused inside a value
_FOLD_SHIFT = 40  # above the month (yyyymm < 2**20, shifted by 16)
_POSITION_BITS = 21  # three positions in one int64: the lookup string must be shorter than 2**21
# Rows per block: SQLite's blocks are sorted by id in a temporary B-tree, cheaper in small
# groups; PostgreSQL hashes a handful of large ones.
_BLOCK_SHIFT = {"sqlite": 10, "postgresql": 16}
# SQLite walks the (tenant, survey, time) index only for a survey that is a small part of
# the table: a walk fetches rows in time order, i.e. scattered over the table (3x slower
# than a scan for 200,000 responses in random order).
_INDEX_BELOW_SHARE = 0.125
_SCAN_IDS = 2 ** 16  # ids per query of SQLite's scan


@dataclass
class Coded:
    """A text column as codes: ``labels[codes[i]]`` is row i's value (None: empty)."""

    codes: np.ndarray  # int64
    labels: list[Optional[str]]


@dataclass
class Where:
    """Which responses to read: months ``from_month``..``to_month`` (yyyymm, inclusive)
    and, when given, only these stores, channels, staff, RFM segments or tiers."""

    from_month: Optional[int] = None
    to_month: Optional[int] = None
    store: Sequence[str] = ()
    channel: Sequence[str] = ()
    staff: Sequence[str] = ()
    rfm_segment: Sequence[str] = ()
    tier: Sequence[str] = ()


@dataclass
class Responses:
    scores: np.ndarray  # n×k uint8, 0 = not answered
    overall: np.ndarray  # int8, -1 = not answered
    nps: np.ndarray
    recommend: np.ndarray
    repurchase: np.ndarray
    local_month: np.ndarray  # int64 yyyymm
    text: dict[str, Coded] = field(default_factory=dict)  # store / channel / staff, those read
    customer_id: Optional[np.ndarray] = None
    segments: dict[str, Coded] = field(default_factory=dict)  # rfm_segment / tier, those joined

    def __len__(self) -> int:
        return self.scores.shape[0]

    def subset(self, keep: np.ndarray) -> "Responses":
        def cut(c: Coded) -> Coded:
            return Coded(c.codes[keep], c.labels)
        return Responses(
            scores=self.scores[keep], overall=self.overall[keep], nps=self.nps[keep], recommend=self.recommend[keep],
            repurchase=self.repurchase[keep], local_month=self.local_month[keep],
            text={k: cut(v) for k, v in self.text.items()},
            customer_id=None if self.customer_id is None else self.customer_id[keep],
            segments={k: cut(v) for k, v in self.segments.items()},
        )


class _Query:
    """The WHERE clause and parameters shared by the queries of one read."""

    def __init__(self, session: Session, tenant_id: int, survey_id: int, where: Where):
        self.session = session
        self.dialect = session.get_bind().dialect.name
        self.mark = "%s" if self.dialect == "postgresql" else "?"
        conditions = [f"tenant_id = {self.mark}", f"survey_id = {self.mark}"]
        self.params: list[Any] = [tenant_id, survey_id]
        if where.from_month is not None:
            conditions.append(f"local_month >= {self.mark}")
            self.params.append(where.from_month)
        if where.to_month is not None:
            conditions.append(f"local_month <= {self.mark}")
            self.params.append(where.to_month)
        for name in _TEXT_COLUMNS:
            wanted = list(getattr(where, name))
            if wanted:
                conditions.append(f"{name} IN ({', '.join([self.mark] * len(wanted))})")
                self.params.extend(wanted)
        self.where = " AND ".join(conditions)
        self.source = "satisfaction_responses"
        self.scan_ids: tuple[int, int] | None = None  # SQLite scanning the table: its id range

    def rows(self, sql: str, params: Sequence = (), filtered: bool = True) -> list[tuple]:
        """The rows of ``sql``: ``params``, then (``filtered``) the WHERE clause's."""
        params = [*params, *self.params] if filtered else list(params)
        cursor = self.session.connection().connection.cursor()
        try:
            if self.dialect == "postgresql":
                cursor.execute(sql, params, binary=True, prepare=False)
            else:
                cursor.execute(sql, params)
            return cursor.fetchall()
        finally:
            cursor.close()

    def choose_sqlite_path(self, tenant_id: int, survey_id: int) -> None:
        if self.dialect != "sqlite":
            return
        low, high = self.rows("SELECT min(id), max(id) FROM satisfaction_responses", filtered=False)[0]
        mine = self.rows(f"SELECT count(*) FROM satisfaction_responses WHERE {self.where}")[0][0]
        if mine and mine >= _INDEX_BELOW_SHARE * (high - low + 1):
            self.source = "satisfaction_responses NOT INDEXED"
            self.scan_ids = (low, high)


def _lookup(values: list[Optional[str]]) -> tuple[str, dict[int, int]]:
    """The position-lookup string of ``values`` and {1-based position: code}."""
    text = _SEPARATOR + _SEPARATOR.join("" if v is None else v for v in values) + _SEPARATOR
    positions, at = {}, 1
    for code, value in enumerate(values):
        positions[at] = code
        at += len(value or "") + 1
    return text, positions


def read(session: Session, tenant_id: int, survey_id: int, width: int, where: Where | None = None,
         columns: Iterable[str] = (), with_customers: bool = False) -> Responses:
    """The survey's responses; ``columns`` the text columns wanted (store, channel, staff)."""
    q = _Query(session, tenant_id, survey_id, where or Where())
    q.choose_sqlite_path(tenant_id, survey_id)
    postgres = q.dialect == "postgresql"
    text = [c for c in _TEXT_COLUMNS if c in set(columns)]
    labels: dict[str, list[Optional[str]]] = {}
    lookups: list[tuple[str, dict[int, int]]] = []
    for name in text:
        found = [r[0] for r in q.rows(f"SELECT DISTINCT {name} FROM {q.source} WHERE {q.where}")]
        if any(v is not None and _SEPARATOR in v for v in found):
            raise TextUnreadable(f"a {name} value contains the character U+001F")
        found.sort(key=lambda v: (v is not None, v or ""))  # None first, then in order
        lookups.append(_lookup(found))
        if len(lookups[-1][0]) >= 2 ** _POSITION_BITS:
            raise TextUnreadable(f"too many distinct {name} values to slice by")
        labels[name] = found

    def as_int(expr: str) -> str:
        if postgres:
            return f"string_agg(int8send(CAST({expr} AS BIGINT)), ''::bytea)"
        return f"group_concat({expr}, ',')"

    blob = "string_agg(scores, ''::bytea)" if postgres else "CAST(group_concat(scores, '') AS BLOB)"
    params: list[Any] = []
    find = "strpos({lookup}, {sep} || {name} || {sep})" if postgres else "instr({lookup}, {sep} || {name} || {sep})"
    sep = "chr(31)" if postgres else "char(31)"
    terms = []
    for i, name in enumerate(text):
        terms.append(f"CAST(COALESCE({find.format(lookup=q.mark, sep=sep, name=name)}, 1) AS BIGINT) * {2 ** (_POSITION_BITS * i)}")
        params.append(lookups[i][0])
    # One text column rides in the packed integer's top bits (one concatenation less).
    folded = len(text) == 1
    if folded:
        select = [blob, as_int(f"{_PACKED} + {terms[0]} * {2 ** _FOLD_SHIFT}")]
    else:
        select = [blob, as_int(_PACKED)] + ([as_int(" + ".join(terms))] if text else [])
    if with_customers:
        select.append(as_int("customer_id"))
    if q.scan_ids is not None:
        # SQLite's scan: one query per range of ids, read in id order (a GROUP BY sorts every row first).
        low, high = q.scan_ids
        sql = f"SELECT {', '.join(select)} FROM {q.source} WHERE id >= ? AND id < ? AND {q.where}"
        blocks = [row for start in range(low, high + 1, _SCAN_IDS)
                  for row in q.rows(sql, [*params, start, start + _SCAN_IDS]) if row[0] is not None]
    else:
        shift = _BLOCK_SHIFT[q.dialect]
        blocks = q.rows(f"SELECT {', '.join(select)} FROM {q.source} WHERE {q.where} GROUP BY id / {2 ** shift}", params)

    def ints(column: int) -> np.ndarray:
        if postgres:
            return np.frombuffer(b"".join(bytes(b[column]) for b in blocks), ">i8").astype(np.int64)
        return np.fromstring(",".join(b[column] for b in blocks), sep=",", dtype=np.int64)

    packed = ints(1) if blocks else np.zeros(0, np.int64)
    positions = None
    if folded:
        positions, packed = packed >> _FOLD_SHIFT, packed & (2 ** _FOLD_SHIFT - 1)
    elif text:
        positions = ints(2) if blocks else np.zeros(0, np.int64)
    n = packed.size
    raw = b"".join(bytes(b[0]) for b in blocks)
    if len(raw) != n * width:
        raise ValueError(f"survey {survey_id}: stored answers are not {width} bytes each")
    scores = np.frombuffer(raw, np.uint8).reshape(n, width) if n else np.zeros((0, width), np.uint8)

    def field_of(shift_bits: int) -> np.ndarray:
        return (((packed >> shift_bits) & 15) - 1).astype(np.int8)

    coded: dict[str, Coded] = {}
    if text:
        for i, name in enumerate(text):
            at = (positions >> (_POSITION_BITS * i)) & (2 ** _POSITION_BITS - 1)
            table = np.zeros(max(lookups[i][1]) + 1 if lookups[i][1] else 1, np.int64)
            for position, code in lookups[i][1].items():
                table[position] = code
            coded[name] = Coded(table[at], labels[name])
    customers = None
    if with_customers:
        customers = ints(len(select) - 1) if blocks else np.zeros(0, np.int64)
    return Responses(scores=scores, overall=field_of(12), nps=field_of(8), recommend=field_of(4),
                     repurchase=field_of(0), local_month=packed >> 16, text=coded, customer_id=customers)


def join_segments(session: Session, tenant_id: int, responses: Responses, enabled: Iterable[str],
                  wanted: Iterable[str]) -> None:
    """Add ``rfm_segment`` and/or ``tier`` codes (from the modules' tables) to ``responses``.
    A customer with no score or no membership gets the label None."""
    enabled = set(enabled)
    sources = {"rfm_segment": ("rfm", "SELECT customer_id, segment FROM rfm_scores WHERE tenant_id = {m}"),
               "tier": ("loyalty", "SELECT customer_id, tier_code FROM loyalty_members WHERE tenant_id = {m}")}
    postgres = session.get_bind().dialect.name == "postgresql"
    for name in wanted:
        module, sql = sources[name]
        if module not in enabled:
            raise ModuleDisabled(name, module)
        cursor = session.connection().connection.cursor()
        try:
            cursor.execute(sql.format(m="%s" if postgres else "?"), (tenant_id,))
            rows = cursor.fetchall()
        finally:
            cursor.close()
        labels: list[Optional[str]] = [None]
        seen: dict[str, int] = {}
        ids = np.fromiter((r[0] for r in rows), np.int64, count=len(rows))
        codes = np.fromiter((seen.setdefault(r[1], len(seen) + 1) for r in rows), np.int64, count=len(rows))
        labels.extend(seen)
        order = np.argsort(ids, kind="stable")
        ids, codes = ids[order], codes[order]
        at = np.searchsorted(ids, responses.customer_id)
        found = at < ids.size
        found[found] = ids[at[found]] == responses.customer_id[found]
        out = np.zeros(len(responses), np.int64)
        out[found] = codes[at[found]]
        responses.segments[name] = Coded(out, labels)


class TextUnreadable(ValueError):
    """A store, channel or staff column the position lookup cannot carry."""


class ModuleDisabled(Exception):
    def __init__(self, group: str, module: str):
        super().__init__(f"slicing by {group} needs the {module} module enabled")
        self.group, self.module = group, module


@dataclass
class Slices:
    slice_of: np.ndarray  # int64 per row
    keys: list[dict[str, Any]]  # per slice: group → value

    @property
    def count(self) -> int:
        return len(self.keys)


def _month_codes(months: np.ndarray) -> Coded:
    """Months (yyyymm) as codes 0.. over the calendar range present (no sort of the rows)."""
    if months.size == 0:
        return Coded(np.zeros(0, np.int64), [])
    serial = (months // 100) * 12 + months % 100 - 1
    low = int(serial.min())
    span = int(serial.max()) - low + 1
    labels = [((low + i) // 12) * 100 + (low + i) % 12 + 1 for i in range(span)]
    return Coded(serial - low, labels)


def group_codes(responses: Responses, group: str) -> Coded:
    if group == "month":
        return _month_codes(responses.local_month)
    if group in responses.text:
        return responses.text[group]
    if group in responses.segments:
        return responses.segments[group]
    raise KeyError(f"{group} was not read")


def slices(responses: Responses, by: Sequence[str]) -> Slices:
    """Each row's slice: one per combination of ``by`` values present (keys in value order of codes)."""
    n = len(responses)
    if not by:
        return Slices(np.zeros(n, np.int64), [{}] if n else [])
    coded = [group_codes(responses, g) for g in by]
    sizes = [max(len(c.labels), 1) for c in coded]
    combined = np.zeros(n, np.int64)
    for c, size in zip(coded, sizes):
        combined = combined * size + c.codes
    space = int(np.prod(sizes, dtype=np.float64))
    if space <= 4 * max(n, 1_000):
        # Few possible combinations: a table of those present, in one pass.
        present = np.bincount(combined, minlength=space) > 0
        used = np.flatnonzero(present)
        remap = np.cumsum(present) - 1
        slice_of = remap[combined]
    else:
        used, slice_of = np.unique(combined, return_inverse=True)
    keys = []
    for value in used.tolist():
        key: dict[str, Any] = {}
        for g, c, size in zip(reversed(by), reversed(coded), reversed(sizes)):
            value, code = divmod(value, size)
            key[g] = c.labels[code] if c.labels else None
        keys.append({g: key[g] for g in by})
    return Slices(slice_of.astype(np.int64), keys)


def keep_rows(responses: Responses, where: Where) -> Optional[np.ndarray]:
    """The mask of rows whose joined segment and tier pass ``where`` (None: all)."""
    mask = None
    for name in ("rfm_segment", "tier"):
        wanted = set(getattr(where, name))
        if not wanted:
            continue
        coded = responses.segments[name]
        allowed = np.array([label in wanted for label in coded.labels], bool)
        rows = allowed[coded.codes]
        mask = rows if mask is None else mask & rows
    return mask



MAX_VALUES = 200  # values per list filter
MAX_TEXT = 64  # store, staff and channel columns' length


def parse_where(data: dict | None) -> Where:
    """A filter from API/CLI input (keys from_month, to_month, store, channel, staff,
    rfm_segment, tier), every problem named by its field."""
    from engine.errors import FieldError, ValidationFailed

    data = data or {}
    errors: list[FieldError] = []
    known = {"from_month", "to_month", *_TEXT_COLUMNS, "rfm_segment", "tier"}
    for key in sorted(set(data) - known):
        errors.append(FieldError(f"where.{key}", "unknown filter"))
    months = {}
    for key in ("from_month", "to_month"):
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not (190001 <= value <= 299912 and 1 <= value % 100 <= 12):
            errors.append(FieldError(f"where.{key}", f"must be a month as yyyymm (e.g. 202501), got {value!r}"))
        else:
            months[key] = value
    if len(months) == 2 and months["from_month"] > months["to_month"]:
        errors.append(FieldError("where.to_month", "must not be before from_month"))
    lists = {}
    for key in (*_TEXT_COLUMNS, "rfm_segment", "tier"):
        values = data.get(key) or []
        if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
            errors.append(FieldError(f"where.{key}", "must be a list of texts"))
            continue
        if len(values) > MAX_VALUES:
            errors.append(FieldError(f"where.{key}", f"at most {MAX_VALUES} values"))
        elif any(not v or len(v) > MAX_TEXT for v in values):
            errors.append(FieldError(f"where.{key}", f"values must be 1 to {MAX_TEXT} characters"))
        else:
            lists[key] = list(dict.fromkeys(values))
    if errors:
        raise ValidationFailed(errors)
    return Where(**months, **lists)
