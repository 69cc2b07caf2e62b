"""Stable keys for imported interactions that have no ``external_id``.

Importing a corrected file again must not store a real-world interaction
twice. A row without an ``external_id`` gets one derived from what
identifies the event: the customer, the kind, the instant it occurred (in
UTC, however the file wrote it), the store, the channel, the staff member and
the purchase a refund reverses, plus its occurrence among identical rows of
the same file (the second identical row is a second real event, ``#2``).
The existing unique external id makes the second import report it as a
duplicate.

The amount, quantity and payload are deliberately left out: they are what a
corrected file changes, and a corrected amount of an interaction already
stored must not store a second one (interactions are never edited; a wrong
stored amount is put right with a refund).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from zoneinfo import ZoneInfo

from engine.services.interactions import parse_time

PREFIX = "import:"  # recognisable: this id was derived, not given
IDENTITY = ("customer_code", "customer_id", "kind", "store", "channel", "staff", "reverses_external_id", "reverses_id")
KIND, CHANNEL = IDENTITY.index("kind"), IDENTITY.index("channel")


class KeyDeriver:
    """Derives the keys of one file's rows, in file order (the occurrence counter is per file)."""

    def __init__(self, tz: ZoneInfo):
        self.tz = tz
        self.seen: Counter[str] = Counter()

    def key(self, row: dict[str, str]) -> str:
        parts = [(row.get(name) or "").strip() for name in IDENTITY]
        parts[KIND], parts[CHANNEL] = parts[KIND].upper(), parts[CHANNEL].upper()
        parts.append(self._instant(row.get("occurred_at") or ""))
        digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
        self.seen[digest] += 1
        count = self.seen[digest]
        return f"{PREFIX}{digest}" if count == 1 else f"{PREFIX}{digest}#{count}"

    def _instant(self, text: str) -> str:
        try:
            return parse_time(text, self.tz).isoformat()
        except (ValueError, OverflowError):
            return text.strip()  # the row is rejected anyway; its key only has to be stable
