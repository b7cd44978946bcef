"""What an Optuna search leaves in its sweep directory: optimization_results.yaml (the best
trial, as Hydra's Optuna sweeper wrote it), the trials table (trials.csv, trials.md) and
Optuna's plots as PNG."""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

log = logging.getLogger(__name__)


def write_search_results(study: optuna.Study, sweep_dir: Path) -> None:
    """Write every result file of `study` into `sweep_dir`."""
    write_best(study, sweep_dir / "optimization_results.yaml")
    rows = trial_rows(study.trials)
    write_csv(rows, sweep_dir / "trials.csv")
    (sweep_dir / "trials.md").write_text(markdown_table(rows), encoding="utf-8")
    log.info("Search results in %s", sweep_dir)


def write_best(study: optuna.Study, path: Path) -> None:
    """name, best_params, best_value (null while no trial completed) and the best trial."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    best = study.best_trial if complete else None
    document = {"name": "optuna", "study_name": study.study_name,
                "best_params": best.params if best else {},
                "best_value": best.value if best else None,
                "best_trial": best.number if best else None}
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def trial_rows(trials: list[FrozenTrial]) -> list[dict[str, Any]]:
    """One row per trial: number, state, value, duration (s), last reported step, params."""
    names = sorted({name for trial in trials for name in trial.params})
    rows = []
    for trial in trials:
        duration = trial.duration.total_seconds() if trial.duration else None
        rows.append({"trial": trial.number, "state": trial.state.name.lower(),
                     "value": trial.value, "duration_s": duration,
                     "last_step": trial.last_step,
                     **{name: trial.params.get(name) for name in names}})
    return rows


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["trial"])
        writer.writeheader()
        writer.writerows(rows)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, best value first, trials without a value last."""
    if not rows:
        return "No trials.\n"
    ordered = sorted(rows, key=lambda row: (row["value"] is None, -(row["value"] or 0.0)))
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(row[key]) for key in header) + " |" for row in ordered]
    return "\n".join(lines) + "\n"


def cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)
