"""Priority from impact × urgency, as a matrix that lives in configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.incidents.model import Level

# ITIL's 3 × 3: (H,H)=P1; (H,M),(M,H)=P2; (H,L),(M,M),(L,H)=P3; (M,L),(L,M)=P4; (L,L)=P5.
DEFAULT_MATRIX: dict[str, dict[str, str]] = {
    "high": {"high": "P1", "medium": "P2", "low": "P3"},
    "medium": {"high": "P2", "medium": "P3", "low": "P4"},
    "low": {"high": "P3", "medium": "P4", "low": "P5"},
}


@dataclass(frozen=True)
class PriorityMatrix:
    cells: Mapping[str, Mapping[str, str]]

    def priority(self, impact: Level, urgency: Level) -> str:
        return self.cells[impact.value][urgency.value]

    @classmethod
    def default(cls) -> PriorityMatrix:
        return cls(DEFAULT_MATRIX)
