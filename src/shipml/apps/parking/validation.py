"""Rules shared by the parking importers: neighbourhood names and ids, and the count of rejected rows by reason.

Neighbourhood ids follow the original: ``int(str(district) + f"{barrio:02}")`` — 101 for ``01-01 PALACIO``.
Names are compared unaccented, upper case, with single spaces; ``PILAR`` is ``EL PILAR`` and the names that
differ between the city's files (``PALOS DE LA FRONTERA`` / ``PALOS DE MOGUER``, ``LOS CARMENES`` / ``CARMENES``,
``LA CONCEPCION`` / ``CONCEPCION``) are aliases of one id.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from shipml.core.errors import InvalidInput
from shipml.core.matching import unaccent

TEST_BARRIOS = frozenset({"ELO MONITORIZACION 1", "TALLER DEVAS", "TEST PARKARE"})
NAME_ALIASES = {
    "PILAR": "EL PILAR",
    "LOS CARMENES": "CARMENES",
    "PALOS DE LA FRONTERA": "PALOS DE MOGUER",
    "LA CONCEPCION": "CONCEPCION",
}
CODE_PATTERN = re.compile(r"^\s*(\d{1,2})\s*-\s*(\d{1,2})\b")

# Reasons a row can be rejected; the report keeps this order.
REASONS = (
    "encoding",
    "truncated_last_line",
    "missing_field",
    "bad_date",
    "before_2020",
    "end_not_after_start",
    "test_row",
    "unknown_neighbourhood",
    "other_zone",
)


def normalise_name(text: str) -> str:
    """Unaccented, upper case, single spaces, aliases resolved: ``' pilar '`` → ``'EL PILAR'``."""
    name = " ".join(unaccent(text).upper().split())
    return NAME_ALIASES.get(name, name)


def neighbourhood_id(district: int, barrio: int) -> int:
    """The original's id: district 1, barrio 1 → 101; district 15, barrio 8 → 1508."""
    if district < 1 or not 1 <= barrio <= 99:
        raise InvalidInput(f"no neighbourhood has district {district}, barrio {barrio}")
    return int(f"{district}{barrio:02}")


def parse_code(text: str) -> int | None:
    """``'01-01'`` or ``'01-01 PALACIO'`` → 101; ``None`` when the text does not start with a code."""
    match = CODE_PATTERN.match(text)
    if not match:
        return None
    return neighbourhood_id(int(match.group(1)), int(match.group(2)))


@dataclass
class RejectReport:
    """Rows read, kept, and rejected by reason, for one import (one file or many)."""

    rows_read: int = 0
    rows_kept: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def reject(self, reason: str, count: int = 1) -> None:
        if reason not in REASONS:
            raise InvalidInput(f"unknown rejection reason {reason!r}")
        if count:
            self.rejected[reason] += count

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected.values())

    def merge(self, other: RejectReport) -> None:
        self.rows_read += other.rows_read
        self.rows_kept += other.rows_kept
        self.rejected.update(other.rejected)
        self.notes += other.notes

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "rows_rejected": self.rows_rejected,
            "rejected": {r: self.rejected[r] for r in REASONS if self.rejected[r]},
            "notes": list(self.notes),
        }
