"""Where the shared material lies: `../shared/` beside the repository (the development sets, the hostile corpus)."""

from __future__ import annotations

from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
EVAL = SHARED / "eval"
HR = EVAL / "hr-benefits"
