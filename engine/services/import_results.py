"""What storing one chunk of an import came to (shared by the importer and its storers)."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.errors import FieldError


@dataclass
class StoreResult:
    stored: int = 0
    updated: int = 0
    duplicates: int = 0
    invalid: list[tuple[int, list[FieldError]]] = field(default_factory=list)  # (line, errors)

    def add(self, other: StoreResult) -> None:
        self.stored += other.stored
        self.updated += other.updated
        self.duplicates += other.duplicates
        self.invalid.extend(other.invalid)
