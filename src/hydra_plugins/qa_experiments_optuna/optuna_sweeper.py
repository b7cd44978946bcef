"""The `hydra/sweeper=optuna` plugin: asks Optuna for `n_jobs` trials at a time, launches them
as one batch through the configured launcher, and tells the study each outcome (complete,
failed or pruned). Trials that prune report to the study through its storage (see
qa_experiments.training.trial_reporting), so they may run in other processes or on other
machines."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import optuna
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import HydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf
from optuna.trial import Trial, TrialState

from qa_experiments.search.search_results import write_search_results
from qa_experiments.search.search_space import parse_search_space
from qa_experiments.search.storage import JOURNAL_PREFIX, absolute_storage, open_storage
from qa_experiments.search.trial_protocol import (
    PRUNED_ATTR,
    PRUNER_ATTR,
    RUN_DIR_ATTR,
    trial_environment,
)

log = logging.getLogger(__name__)


class OptunaSweeper(Sweeper):
    """Hydra sweeper over one Optuna study; the task's return value is the objective."""

    def __init__(self, sampler: Any, pruner: Any, direction: str, storage: str | None,
                 study_name: str | None, n_trials: int, n_jobs: int, max_failure_rate: float,
                 params: DictConfig | None) -> None:
        if not 0.0 <= max_failure_rate <= 1.0:
            raise HydraException(f"max_failure_rate={max_failure_rate} is not in [0, 1]")
        self.sampler, self.pruner, self.direction = sampler, pruner, direction
        self.storage, self.study_name = storage, study_name
        self.n_trials, self.n_jobs = n_trials, max(1, n_jobs)
        self.max_failure_rate = max_failure_rate
        self.params = dict(params or {})

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.launcher = Plugins.instance().instantiate_launcher(
            config=config, hydra_context=hydra_context, task_function=task_function)
        self.sweep_dir = Path(config.hydra.sweep.dir)
        self.pruner_config = OmegaConf.to_container(config.hydra.sweeper.pruner, resolve=True)

    @property
    def pruning(self) -> bool:
        return not isinstance(self.pruner, optuna.pruners.NopPruner)

    def sweep(self, arguments: list[str]) -> None:
        space = [f"{key}={value}" for key, value in self.params.items()] + list(arguments)
        distributions, fixed = parse_search_space(space)
        storage = self.storage_spec()
        study = optuna.create_study(study_name=self.study_name, storage=open_storage(storage),
                                    sampler=self.sampler, pruner=self.pruner,
                                    direction=self.direction, load_if_exists=True)
        study.set_user_attr(PRUNER_ATTR, self.pruner_config)
        log.info("Study %s (%s, %s, %s, %s trials already)", study.study_name, storage or "memory",
                 type(self.sampler).__name__, type(self.pruner).__name__, len(study.trials))
        try:
            self.run_trials(study, storage, distributions, fixed)
        finally:  # also when too many trials failed: what ran is worth reading
            self.sweep_dir.mkdir(parents=True, exist_ok=True)
            write_search_results(study, self.sweep_dir)

    def run_trials(self, study: optuna.Study, storage: str | None,
                   distributions: dict[str, Any], fixed: dict[str, str]) -> None:
        """n_trials trials, asked and launched n_jobs at a time."""
        job_idx = 0
        while job_idx < self.n_trials:
            batch = min(self.n_jobs, self.n_trials - job_idx)
            trials = [study.ask(distributions) for _ in range(batch)]
            overrides = [self.trial_overrides(study, storage, trial, fixed) for trial in trials]
            returns = self.launcher.launch(overrides, initial_job_idx=job_idx)
            job_idx += len(returns)
            self.tell_batch(study, trials, returns)

    def storage_spec(self) -> str | None:
        """The storage as given; with a pruner and no storage, a journal file in the sweep
        directory, so that trials in other processes can report to the study."""
        if self.storage is None and self.pruning:
            return f"{JOURNAL_PREFIX}{(self.sweep_dir / 'optuna.journal').resolve()}"
        return absolute_storage(self.storage)

    def trial_overrides(self, study: optuna.Study, storage: str | None, trial: Trial,
                        fixed: dict[str, str]) -> list[str]:
        """The trial's parameters, the fixed values and (when pruning) where to report."""
        values = {**{key: format_value(value) for key, value in trial.params.items()}, **fixed}
        overrides = [f"{key}={value}" for key, value in values.items()]
        if self.pruning:
            environment = trial_environment(study.study_name, storage, trial.number)
            overrides += [f"++hydra.job.env_set.{name}={quote(value)}"
                          for name, value in environment.items()]
        return overrides

    def tell_batch(self, study: optuna.Study, trials: list[Trial],
                   returns: list[JobReturn]) -> None:
        """Record each trial's outcome; raise when more failed than max_failure_rate allows."""
        failed = 0
        for trial, job in zip(trials, returns):
            state, value = outcome(study, trial, job)
            if job.hydra_cfg is not None:  # where to read the job, also after a resume
                trial.set_user_attr(RUN_DIR_ATTR, job.hydra_cfg.hydra.runtime.output_dir)
            study.tell(trial, value, state=state)
            failed += state == TrialState.FAIL
            log.info("Trial %d: %s%s", trial.number, state.name.lower(),
                     "" if value is None else f", value {value:.4f}")
        if failed / len(trials) > self.max_failure_rate:
            raise HydraException(f"{failed} of {len(trials)} trials failed, more than "
                                 f"max_failure_rate={self.max_failure_rate}")


def outcome(study: optuna.Study, trial: Trial, job: JobReturn) -> tuple[TrialState, float | None]:
    """Pruned when the job says so in the study; failed when it raised or returned no finite
    number; complete otherwise, with the returned value."""
    stored = study.get_trials(deepcopy=False)[trial.number]  # what the job wrote there
    if stored.user_attrs.get(PRUNED_ATTR):
        return TrialState.PRUNED, None
    if job.status != JobStatus.COMPLETED:
        return TrialState.FAIL, None
    value = job.return_value
    if not isinstance(value, int | float) or not math.isfinite(value):
        return TrialState.FAIL, None
    return TrialState.COMPLETE, float(value)


def format_value(value: Any) -> str:
    """A sampled value as override text (None as null)."""
    return "null" if value is None else str(value)


def quote(text: str) -> str:
    """`text` as a single-quoted override value."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
