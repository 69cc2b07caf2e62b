"""What a plugin's ``guanxi_export_columns`` hook returns: extra columns for
customer exports, as SQL the engine LEFT JOINs into its one SELECT."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa


@dataclass(frozen=True)
class ExportColumns:
    """Columns a module adds to customer exports.

    ``select`` is a SQLAlchemy ``select()`` of the tenant's rows (filter it on
    ``tenant_id``) with a ``customer_id`` column and at most one row per
    customer (``group_by`` when aggregating), and the values labelled with
    their column headers, prefixed with the module's name
    (``RfmScore.segment.label("rfm_segment")``). The engine joins it to the
    customers on ``customer_id``: customers without a row get empty cells,
    and it formats the values itself (times as ISO 8601 UTC, text guarded
    against spreadsheet formulas), in SQL.
    """

    select: sa.Select

    @property
    def names(self) -> list[str]:
        """The column headers: every selected column but ``customer_id``."""
        return [column.key for column in self.select.selected_columns if column.key != "customer_id"]
