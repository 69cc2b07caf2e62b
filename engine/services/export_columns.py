"""What a plugin's ``guanxi_export_columns`` hook returns: extra columns for
customer exports, read one page of customers at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session


@dataclass(frozen=True)
class ExportColumns:
    """Columns a module adds to customer exports.

    ``names`` are the column headers, prefixed with the module's name
    (``rfm_segment``). ``load(session, customer_ids)`` reads them for one
    page of customers in one batched statement and returns
    ``{customer id: (value, ...)}`` with one value per name, in order;
    customers it leaves out get empty cells. Values are text, numbers,
    ``Decimal``, ``datetime`` (aware) or ``None``.
    """

    names: Sequence[str]
    load: Callable[[Session, list[int]], dict[int, Sequence[Any]]]
