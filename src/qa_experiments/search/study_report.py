"""What an Optuna search leaves in its sweep directory: optimization_results.yaml (the best
trial, as Hydra's Optuna sweeper wrote it), the trials table (trials.csv, trials.md) and
Optuna's plots as PNG."""

from __future__ import annotations

import csv
import logging
import warnings
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from qa_experiments.escaping import csv_cell, markdown_text
from qa_experiments.search.trial_protocol import RUN_DIR_ATTR

log = logging.getLogger(__name__)


def write_search_results(study: optuna.Study, sweep_dir: Path) -> None:
    """Write every result file of `study` into `sweep_dir`."""
    write_best(study, sweep_dir / "optimization_results.yaml")
    rows = trial_rows(study.trials)
    write_csv(rows, sweep_dir / "trials.csv")
    (sweep_dir / "trials.md").write_text(markdown_table(rows), encoding="utf-8")
    write_plots(study, sweep_dir)
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
    """One row per trial: number, state, value (a complete trial's objective), duration (s),
    last reported step and its intermediate value, run directory, params."""
    names = sorted({name for trial in trials for name in trial.params})
    rows = []
    for trial in trials:
        duration = trial.duration.total_seconds() if trial.duration else None
        last = trial.last_step
        last_value = None if last is None else trial.intermediate_values[last]
        # Optuna gives a pruned trial its last intermediate value as its value; that is an
        # intermediate score (e.g. F1 on a slice), not the objective, so it has its own column.
        complete = trial.state == TrialState.COMPLETE
        rows.append({"trial": trial.number, "state": trial.state.name.lower(),
                     "value": trial.value if complete else None, "duration_s": duration,
                     "last_step": last, "last_intermediate": last_value,
                     "run_dir": trial.user_attrs.get(RUN_DIR_ATTR),
                     **{name: trial.params.get(name) for name in names}})
    return rows


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """The rows; text that a spreadsheet would run as a formula starts with an apostrophe."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["trial"])
        writer.writeheader()
        writer.writerows({key: csv_cell(value) for key, value in row.items()} for row in rows)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, best value first, then trials without a value (pruned,
    failed) by their last intermediate value."""
    if not rows:
        return "No trials.\n"
    ordered = sorted(rows, key=lambda row: (row["value"] is None, -(row["value"] or 0.0),
                                            -(row["last_intermediate"] or 0.0)))
    header = list(rows[0])
    lines = ["| " + " | ".join(markdown_text(name) for name in header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(row[key]) for key in header) + " |" for row in ordered]
    return "\n".join(lines) + "\n"


def cell(value: Any) -> str:
    """A table cell: floats with 4 significant digits, text (run directories, categorical
    parameters) escaped for Markdown."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value) if isinstance(value, int) else markdown_text(value)


# Optuna's matplotlib plots: file name -> function of optuna.visualization.matplotlib.
PLOTS = {
    "optimization_history.png": "plot_optimization_history",
    "param_importances.png": "plot_param_importances",
    "parallel_coordinate.png": "plot_parallel_coordinate",
    "intermediate_values.png": "plot_intermediate_values",
}


def write_plots(study: optuna.Study, sweep_dir: Path) -> None:
    """Each of PLOTS as PNG; a plot the study cannot make yet (too few complete trials, no
    intermediate values) is skipped with a warning saying why."""
    skipped = {name: reason for name in PLOTS if (reason := plot_missing(study, name))}
    for name, reason in skipped.items():
        log.warning("%s not written: %s", name, reason)
    if len(skipped) == len(PLOTS):
        return
    import matplotlib

    matplotlib.use("Agg")  # the sweeper may run where there is no display
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    for name, function in PLOTS.items():
        if name in skipped:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                axes = getattr(optuna_plots, function)(study)
        except (ValueError, RuntimeError, ImportError, ZeroDivisionError) as error:
            log.warning("%s not written: %s", name, error)
            continue
        figure = axes.flat[0].figure if hasattr(axes, "flat") else axes.figure
        figure.savefig(sweep_dir / name, dpi=110, bbox_inches="tight")
        plt.close(figure)


def plot_missing(study: optuna.Study, name: str) -> str | None:
    """Why the study has nothing to show in plot `name` yet (None: it has)."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return "no complete trial"
    if name == "param_importances.png" and (len(complete) < 2 or not complete[0].params):
        return "importances need two complete trials with searched parameters"
    if name == "intermediate_values.png" and not any(t.intermediate_values for t in study.trials):
        return "no trial reported intermediate values (no pruner)"
    return None
