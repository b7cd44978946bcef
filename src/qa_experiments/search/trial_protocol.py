"""What an Optuna sweeper and its trials' jobs agree on, importable without Optuna: where a
job finds its trial (environment variables the sweeper sets through hydra.job.env_set, so
they reach jobs in other processes and on other machines; the trial by its number), the study
attributes that carry the pruner and a job's "pruned" flag, and the exception that ends a
pruned job.

Whatever a job reads from the study is data, never code: anyone who can append a line to a
shared journal file or a row to a shared database writes into it. So the pruner travels as a
plain description, {"name": NAME, "arguments": {...}}, NAME one of `PRUNERS` (the choices of
hydra/sweeper/pruner), each argument type- and range-checked before the pruner is rebuilt
(`pruner_from_description`); anything else is refused in one line (`StudyAttributeError`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import Any

from qa_experiments.errors import UserError
from qa_experiments.runs.layout import PRUNED

STUDY_ENV = "QA_OPTUNA_STUDY"
STORAGE_ENV = "QA_OPTUNA_STORAGE"
TRIAL_ENV = "QA_OPTUNA_TRIAL_NUMBER"
PRUNER_ATTR = "qa_pruner"  # study attribute: the pruner's plain description (see above)
SPACE_ATTR = "qa_search_space"  # study attribute: {key: Optuna distribution as JSON}
PRUNED_ATTR = PRUNED  # trial attribute the job sets when its trial was pruned
RUN_DIR_ATTR = "run_dir"  # trial attribute the sweeper sets: the job's run directory

LARGEST_COUNT = 10**9  # no pruner argument that counts steps or trials is larger


class StudyAttributeError(UserError, ValueError):
    """A study attribute (written by the sweeper, read back by a trial or a resumed search)
    that is not what the sweeper writes: refused, never acted on."""


class TrialPruned(Exception):
    """The job's Optuna trial was pruned: training stopped after `scores` [{step, f1}]."""

    def __init__(self, scores: list[dict[str, float]]) -> None:
        super().__init__(f"pruned at step {scores[-1]['step']} (F1 {scores[-1]['f1']:.2f} "
                         "on the pruning slice)")
        self.scores = scores


def trial_environment(study_name: str, storage: str, trial_number: int) -> dict[str, str]:
    """The variables that point a job at its trial (`trial.number` in the study)."""
    return {STUDY_ENV: study_name, STORAGE_ENV: storage, TRIAL_ENV: str(trial_number)}


def trial_location() -> tuple[str, str, int] | None:
    """(study name, storage, trial number) when this job is a trial that reports, else None."""
    if TRIAL_ENV not in os.environ:
        return None
    return os.environ[STUDY_ENV], os.environ[STORAGE_ENV], int(os.environ[TRIAL_ENV])


# An argument check: the reason `value` is refused, or None when it is fine.
Check = Callable[[Any], "str | None"]


def integer(low: int, *, auto: bool = False) -> Check:
    """An int (not a bool) in [low, LARGEST_COUNT]; with `auto`, also the string "auto"."""
    def check(value: Any) -> str | None:
        if auto and value == "auto":
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            return "an integer" + (' or "auto"' if auto else "")
        if not low <= value <= LARGEST_COUNT:
            return f"an integer in [{low}, {LARGEST_COUNT}]"
        return None
    return check


def number(low: float = -math.inf, high: float = math.inf, *, optional: bool = False) -> Check:
    """A finite int or float (not a bool) in [low, high]; with `optional`, also None."""
    def check(value: Any) -> str | None:
        if optional and value is None:
            return None
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or not low <= value <= high):
            bounds = "" if math.isinf(low) and math.isinf(high) else f" in [{low:g}, {high:g}]"
            return f"a finite number{bounds}" + (" or null" if optional else "")
        return None
    return check


_MEDIAN = {"n_startup_trials": integer(0), "n_warmup_steps": integer(0),
           "interval_steps": integer(1), "n_min_trials": integer(1)}
# The closed list of pruners a trial rebuilds: name (the hydra/sweeper/pruner choice) ->
# (class in optuna.pruners, {argument: its check}). Nothing outside it is ever built.
PRUNERS: dict[str, tuple[str, dict[str, Check]]] = {
    "none": ("NopPruner", {}),
    "median": ("MedianPruner", _MEDIAN),
    "percentile": ("PercentilePruner", {"percentile": number(0.0, 100.0), **_MEDIAN}),
    "successive_halving": ("SuccessiveHalvingPruner", {
        "min_resource": integer(1, auto=True), "reduction_factor": integer(2),
        "min_early_stopping_rate": integer(0), "bootstrap_count": integer(0)}),
    "hyperband": ("HyperbandPruner", {
        "min_resource": integer(1), "max_resource": integer(1, auto=True),
        "reduction_factor": integer(2), "bootstrap_count": integer(0)}),
    "threshold": ("ThresholdPruner", {
        "lower": number(optional=True), "upper": number(optional=True),
        "n_warmup_steps": integer(0), "interval_steps": integer(1)}),
}


def shown(value: Any, limit: int = 80) -> str:
    """`value` for a one-line message, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def describe_pruner(config: Mapping[str, Any]) -> dict[str, Any]:
    """The plain description of a pruner's Hydra config (`_target_` and arguments), which must
    be one of PRUNERS; StudyAttributeError otherwise."""
    target = config.get("_target_")
    names = {f"optuna.pruners.{cls}": name for name, (cls, _) in PRUNERS.items()}
    if target not in names:
        raise StudyAttributeError(
            f"hydra.sweeper.pruner._target_={target} is not a pruner that trials can rebuild; "
            f"choose hydra/sweeper/pruner={'|'.join(PRUNERS)}")
    description = {"name": names[target],
                   "arguments": {key: value for key, value in config.items() if key != "_target_"}}
    check_pruner_description(description, "hydra.sweeper.pruner")
    return description


def check_pruner_description(description: Any, source: str) -> tuple[str, dict[str, Any]]:
    """(Optuna class name, arguments) of a pruner description read from `source`;
    StudyAttributeError naming `source` and what is wrong when it is not one PRUNERS holds."""
    def refuse(problem: str) -> StudyAttributeError:
        return StudyAttributeError(f"{source}: the pruner description is refused: {problem}")

    if not isinstance(description, Mapping):
        raise refuse(f"expected {{'name': ..., 'arguments': {{...}}}}, got {shown(description)}")
    unknown = sorted(map(str, set(description) - {"name", "arguments"}))
    if unknown:
        raise refuse(f"unknown key {shown(unknown[0])} (a description holds only 'name' and "
                      "'arguments')")
    name, arguments = description.get("name"), description.get("arguments", {})
    if not isinstance(name, str) or name not in PRUNERS:
        raise refuse(f"unknown pruner {shown(name)} (known: {', '.join(PRUNERS)})")
    cls, checks = PRUNERS[name]
    if not isinstance(arguments, Mapping):
        raise refuse(f"the arguments of {name} are not a mapping: {shown(arguments)}")
    for key, value in arguments.items():
        if key not in checks:
            known = ", ".join(checks) or "none"
            raise refuse(f"unknown argument {shown(key)} of the {name} pruner (known: {known})")
        problem = checks[key](value)
        if problem is not None:
            raise refuse(f"{name} argument {key}={shown(value)} is not {problem}")
    return cls, dict(arguments)


def pruner_from_description(description: Any, source: str):
    """The Optuna pruner a checked description names, built from the closed list only."""
    cls, arguments = check_pruner_description(description, source)
    import optuna

    try:
        return getattr(optuna.pruners, cls)(**arguments)
    except (TypeError, ValueError) as error:  # e.g. a threshold pruner with neither bound
        message = " ".join(str(error).split())
        raise StudyAttributeError(f"{source}: the pruner description is refused: {cls}: "
                                  f"{message}") from error
