"""What an Optuna sweeper and its trials' jobs agree on, importable without Optuna: where a
job finds its trial (environment variables the sweeper sets through hydra.job.env_set, so
they reach jobs in other processes and on other machines; the trial by its number), the study
attributes that carry the pruner's config and a job's "pruned" flag, and the exception that
ends a pruned job."""

from __future__ import annotations

import os

STUDY_ENV = "QA_OPTUNA_STUDY"
STORAGE_ENV = "QA_OPTUNA_STORAGE"
TRIAL_ENV = "QA_OPTUNA_TRIAL_NUMBER"
PRUNER_ATTR = "qa_pruner"  # study attribute: the pruner's Hydra config (_target_ and arguments)
PRUNED_ATTR = "pruned"  # trial attribute the job sets when its trial was pruned
RUN_DIR_ATTR = "run_dir"  # trial attribute the sweeper sets: the job's run directory


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
