"""Reading import files: CSV (UTF-8 or GB18030/GBK) and XLSX, row by row.

A file that cannot be read at all (unknown encoding, not a workbook, no
header) raises ValidationFailed naming the file. Anything wrong with one row
(bytes that are not text in the file's encoding, a NUL character, a cell too
long to be a value) makes that row a ``BadRow`` carrying the reason, and the
reading goes on: the importer rejects it like any other invalid row.
Reasons never quote the row's data.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine.errors import FieldError, ValidationFailed

# csv refuses fields over 128 KiB by default and then stops reading the file.
# Larger cells are read and rejected by MAX_CELL instead, row by row.
csv.field_size_limit(64 * 1024 * 1024)
MAX_CELL = 10_000  # characters; no column holds more (preferences: 2,000; attributes JSON: a few hundred)
SAMPLE_BYTES = 4 * 1024 * 1024  # what encoding detection looks at
# A UTF-8 file with this share of its non-ASCII bytes invalid is still UTF-8
# with some damaged rows; a GBK file fails on nearly all of them.
DAMAGED_UTF8_SHARE = 0.05
CHINESE_LEGACY = {"gb18030", "gbk", "gb2312", "cp936", "hz"}
UNDECODABLE = re.compile("[\udc80-\udcff]")  # what surrogateescape leaves for a byte that is not text


@dataclass(frozen=True)
class BadRow:
    """A row that could not be read as values; ``raw`` is what could be read, for the reject file."""

    raw: dict[str, str]
    errors: list[FieldError]


@dataclass
class TableFile:
    """One import file: its columns, its rows as ``(line, dict | BadRow)``."""

    path: Path
    header: list[str]
    encoding: str  # "utf-8", "gb18030" or "xlsx"

    def rows(self) -> Iterator[tuple[int, dict[str, str] | BadRow]]:
        rows = _xlsx_rows(self.path) if self.encoding == "xlsx" else _csv_rows(self.path, self.encoding)
        next(rows)  # the header
        for line, values in rows:
            yield line, _row(self.header, values)

    def count(self) -> int:
        """Data rows, for the progress bar (XLSX: from the sheet's dimensions)."""
        if self.encoding == "xlsx":
            workbook, sheet = _xlsx_sheet(self.path)
            rows = sheet.max_row or 1
            workbook.close()
            return max(rows, 1) - 1
        return sum(1 for _ in _csv_rows(self.path, self.encoding)) - 1


def file_sha256(path: Path) -> str:
    """The file's content hash: what identifies an import to resume."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def open_table(path: Path) -> TableFile:
    """Detect the file's format and encoding and read its header."""
    if not path.is_file():
        raise ValidationFailed([FieldError("file", f"{path} does not exist")])
    if path.suffix.lower() == ".xls":
        raise ValidationFailed([FieldError("file", f"{path.name} is in the old Excel format (.xls); save it as .xlsx or CSV UTF-8")])
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        encoding = "xlsx"
        rows = _xlsx_rows(path)
    else:
        encoding = detect_encoding(path)
        rows = _csv_rows(path, encoding)
    first = next(rows, None)
    header = [value.strip() for value in first[1] or []] if first else []
    while header and header[-1] == "":
        header.pop()  # spreadsheets leave empty trailing header cells
    if not header:
        raise ValidationFailed([FieldError("file", f"{path.name} is empty: the first row must name the columns")])
    bad = [name for name in header if UNDECODABLE.search(name) or "\x00" in name or not name]
    if bad:
        raise ValidationFailed([FieldError("file", f"{path.name}: the header row has empty or unreadable column names")])
    return TableFile(path, header, encoding)


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM), else GB18030 (which reads GBK and GB2312), else an error."""
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8"  # the BOM is dropped when reading
    if _mostly_utf8(sample):
        return "utf-8"
    if b"\x00" in sample[:4096] and sample.count(b"\x00") > len(sample[:4096]) // 4:
        raise ValidationFailed([FieldError("file", f"{path.name} is not a text file (it looks like UTF-16 or binary data); "
                                           "save it as CSV UTF-8 or as an Excel workbook")])
    from charset_normalizer import from_bytes

    matches = from_bytes(sample)
    best = matches.best()
    found = best.encoding if best is not None else None
    # A few Chinese characters read equally well as GBK, Big5 or Korean; a
    # tie goes to GB18030, what Excel writes in a mainland Chinese locale.
    gb = [match for match in matches if match.encoding in CHINESE_LEGACY]
    if (gb and gb[0].chaos <= best.chaos) or (found is None and _decodes(sample, "gb18030")):
        return "gb18030"
    raise ValidationFailed([FieldError("file", f"{path.name} is neither UTF-8 nor GB18030/GBK text "
                                       f"(detected: {found or 'binary data'}); save it as CSV UTF-8")])


def _mostly_utf8(sample: bytes) -> bool:
    text = codecs.getincrementaldecoder("utf-8")("surrogateescape").decode(sample, final=False)
    bad = len(UNDECODABLE.findall(text))
    if bad == 0:
        return True
    non_ascii = sum(1 for byte in sample if byte >= 0x80)
    return bad <= DAMAGED_UTF8_SHARE * non_ascii


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
        return True
    except UnicodeDecodeError:
        return False


def _csv_rows(path: Path, encoding: str) -> Iterator[tuple[int, list[str] | None]]:
    """(first line of the row, cells); bytes that are not text become U+DC80..U+DCFF."""
    with path.open(newline="", encoding="utf-8-sig" if encoding == "utf-8" else encoding, errors="surrogateescape") as handle:
        reader = csv.reader(handle)
        line = 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error:
                cells = None  # not CSV; the reader goes on with the next line
            if cells is None or cells:
                yield line, cells
            line = reader.line_num + 1


def _xlsx_sheet(path: Path):
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise ValidationFailed([FieldError("file", f"{path.name} is not a readable Excel workbook ({type(error).__name__})")]) from None
    return workbook, workbook.worksheets[0]


def _xlsx_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    workbook, sheet = _xlsx_sheet(path)
    try:
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = [_cell_text(value) for value in values]
            if any(cells):
                yield line, cells
    finally:
        workbook.close()


def _cell_text(value) -> str:
    """A cell as the text a CSV would hold: numbers without float noise, times in ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _row(header: list[str], cells: list[str] | None) -> dict[str, str] | BadRow:
    if cells is None:
        return BadRow({}, [FieldError("", "the row is not well-formed CSV (check its quotes)")])
    if len(cells) == len(header):
        joined = "".join(cells)
        if len(joined) <= MAX_CELL and "\x00" not in joined and not UNDECODABLE.search(joined):
            return dict(zip(header, cells))  # the common case, checked at once
    raw = {name: cells[i] if i < len(cells) else "" for i, name in enumerate(header)}
    errors = []
    if any(cell.strip() for cell in cells[len(header):]):
        errors.append(FieldError("", f"the row has {len(cells)} cells but the header names {len(header)} columns"))
    for name, value in raw.items():
        if UNDECODABLE.search(value):
            errors.append(FieldError(name, "holds bytes that are not text in the file's encoding"))
        elif "\x00" in value:
            errors.append(FieldError(name, "holds a NUL character"))
        elif len(value) > MAX_CELL:
            errors.append(FieldError(name, f"is {len(value):,} characters long; the most a value may have is {MAX_CELL:,}"))
    if errors:
        return BadRow({name: _printable(value) for name, value in raw.items()}, errors)
    return raw


def _printable(value: str) -> str:
    """A bad cell as the reject file holds it: undecodable bytes as U+FFFD, NULs dropped."""
    return UNDECODABLE.sub("\ufffd", value).replace("\x00", "")
