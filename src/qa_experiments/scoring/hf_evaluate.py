"""Offline loading of the bundled SQuAD ``evaluate`` metric modules."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import evaluate

_MODULES_DIR = Path(__file__).resolve().parent / "hf_evaluate_modules"


def load_squad_metric(version_2_with_negative: bool) -> evaluate.EvaluationModule:
    """Load the SQuAD v1.1 (or v2.0 if ``version_2_with_negative``) metric.

    Passes ``evaluate.load`` the absolute path of the module directory shipped
    in this package, so nothing is fetched from the Hub and it works offline.
    """
    # Imported here: `evaluate` pulls in Transformers' pipelines (about 3 s), which every
    # command's start-up, and its one-line errors, would otherwise pay.
    import evaluate

    name = "squad_v2" if version_2_with_negative else "squad"
    return evaluate.load(str(_MODULES_DIR / name))
