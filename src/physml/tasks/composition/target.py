"""What a composition task predicts, as its plots, tables and served model name it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    label: str  # "Tc": the served model's output column, a plot's axis
    unit: str = ""  # "K"
    formula_column: str | None = None  # the served model takes raw formulas in this column (else features)

    @property
    def axis(self) -> dict[str, str]:
        return {"label": self.label, "unit": self.unit}
