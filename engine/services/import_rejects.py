"""The reject file: every rejected row of an import, beside the input.

``<name>.rejects.csv`` holds the input's columns as read, plus ``line`` (the
row's line in the input) first and ``reason`` last. It is UTF-8 with a BOM
(so Excel in a Chinese locale opens it right) and can be fixed and imported
as is: the importer ignores the ``line`` and ``reason`` columns.

Rows are appended chunk by chunk before the chunk commits. An import that
resumes after a kill first drops the rows past its last committed line, so
the file ends with each rejected row exactly once.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from engine.errors import FieldError

LINE, REASON = "line", "reason"
REJECT_COLUMNS = frozenset({LINE, REASON})
MAX_REASON = 300  # characters of one field's message: messages may quote a value, never a huge one


def reject_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.rejects.csv")


def reason_text(errors: list[FieldError]) -> str:
    parts = []
    for error in errors:
        text = str(error)
        parts.append(text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…")
    return "; ".join(parts)


class RejectFile:
    """Appends rejected rows to ``reject_path(source)``; created on the first one."""

    def __init__(self, source: Path, header: list[str], resume_after_line: int | None):
        self.path = reject_path(source)
        self.columns = [LINE, *[c for c in header if c not in REJECT_COLUMNS], REASON]
        self.count = 0
        if resume_after_line is None:
            self.path.unlink(missing_ok=True)  # a fresh import: an old reject file is stale
        elif self.path.exists():
            self._keep_until(resume_after_line)

    def _keep_until(self, last_line: int) -> None:
        """Drop rows written for chunks that never committed."""
        with self.path.open(newline="", encoding="utf-8-sig") as handle:
            kept = [row for row in csv.DictReader(handle) if int(row.get(LINE) or 0) <= last_line]
        self.path.unlink()
        self.count = 0
        if kept:
            self.write([(int(row[LINE]), row, row.get(REASON, "")) for row in kept])

    def write(self, rows: list[tuple[int, dict[str, str], str]]) -> None:
        """Append ``(line, values as read, reason)`` rows and flush them to disk."""
        if not rows:
            return
        fresh = not self.path.exists()
        with self.path.open("a", newline="", encoding="utf-8-sig" if fresh else "utf-8") as handle:
            writer = csv.DictWriter(handle, self.columns, extrasaction="ignore")
            if fresh:
                writer.writeheader()
            for line, values, reason in sorted(rows, key=lambda row: row[0]):
                writer.writerow({**values, LINE: line, REASON: reason})
            handle.flush()
            os.fsync(handle.fileno())
        self.count += len(rows)
