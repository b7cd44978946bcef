"""The `hydra/sweeper=optuna` plugin: asks Optuna for `n_jobs` trials at a time, launches them
as one batch through the configured launcher, and tells the study each outcome (complete,
failed or pruned). Trials that prune report to the study through its storage (see
qa_experiments.training.trial_reporting), so they may run in other processes or on other
machines.

Before any trial, the study is checked (`OptunaSweeper.open_study`): storage that cannot be
opened, a pruner its trials cannot rebuild, or a stored study with another direction or search
space is refused in one line. What the study keeps for its trials and later searches is plain
JSON (the pruner's description, the search space), never a config to instantiate. A search
that resumes a stored study seeds its sampler anew (`continued_seed`), so that it does not
draw the earlier searches' trials again."""

from __future__ import annotations

import hashlib
import logging
import math
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import HydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from qa_experiments.config.schema import ConfigError
from qa_experiments.errors import extra, missing_package
from qa_experiments.search.trial_protocol import (
    PRUNED_ATTR,
    PRUNER_ATTR,
    RUN_DIR_ATTR,
    SPACE_ATTR,
    describe_pruner,
    trial_environment,
)

# Optuna comes with the `sweep` extra. Hydra imports every plugin module on every command, and
# warns at length about one that fails to import: without the extra this module still imports,
# and only a search (hparams_search=optuna) says, in one line, what to install.
try:
    import optuna
    from optuna.distributions import BaseDistribution
    from optuna.trial import Trial, TrialState

    from qa_experiments.search.optuna_storage import (
        JOURNAL_PREFIX,
        absolute_storage,
        open_storage,
        shown_url,
    )
    from qa_experiments.search.search_space import (
        StudyMismatchError,
        describe_space,
        parse_search_space,
        space_change,
    )
    from qa_experiments.search.study_report import write_search_results
except ModuleNotFoundError as missing:
    MISSING_EXTRA: ModuleNotFoundError | None = missing
else:
    MISSING_EXTRA = None

log = logging.getLogger(__name__)

DIRECTIONS = ("maximize", "minimize")


class OptunaSweeper(Sweeper):
    """Hydra sweeper over one Optuna study; the task's return value is the objective."""

    def __init__(self, sampler: Any, pruner: Any, direction: str, storage: str | None,
                 study_name: str | None, n_trials: int, n_jobs: int, max_failure_rate: float,
                 params: DictConfig | None) -> None:
        if MISSING_EXTRA is not None:
            raise missing_package("hparams_search=optuna", MISSING_EXTRA, extra("sweep"))
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
        self.sampler_config = OmegaConf.to_container(config.hydra.sweeper.sampler, resolve=True)
        self.pruner_config = OmegaConf.to_container(config.hydra.sweeper.pruner, resolve=True)

    @property
    def pruning(self) -> bool:
        return not isinstance(self.pruner, optuna.pruners.NopPruner)

    def sweep(self, arguments: list[str]) -> None:
        space = [f"{key}={value}" for key, value in self.params.items()] + list(arguments)
        distributions, fixed = parse_search_space(space)
        storage = self.storage_spec()
        study = self.open_study(storage, distributions)
        log.info("Study %s (%s, %s, %s, %s trials already)", study.study_name,
                 shown_url(storage), type(study.sampler).__name__,
                 type(self.pruner).__name__, len(study.trials))
        try:
            self.run_trials(study, storage, distributions, fixed)
        finally:  # also when too many trials failed: what ran is worth reading
            self.sweep_dir.mkdir(parents=True, exist_ok=True)
            write_search_results(study, self.sweep_dir)

    def open_study(self, storage: str | None,
                   distributions: dict[str, BaseDistribution]) -> optuna.Study:
        """The study, created or resumed, before any trial: refused in one line (a UserError)
        when its storage cannot be opened, when the pruner cannot be described to trials, or
        when a stored study has another direction or search space. A resumed study gets a
        sampler that continues where the earlier searches stopped (`continued_seed`) and the
        pruner's plain description, which its trials rebuild."""
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"hydra.sweeper.direction={self.direction} is not one of "
                              f"{', '.join(DIRECTIONS)}")
        pruner = describe_pruner(self.pruner_config)
        study = optuna.create_study(study_name=self.study_name, storage=open_storage(storage),
                                    sampler=self.sampler, pruner=self.pruner,
                                    direction=self.direction, load_if_exists=True)
        where = f"study {study.study_name!r} in {shown_url(storage)}"
        stored = [direction.name.lower() for direction in study.directions]
        if stored != [self.direction]:
            raise StudyMismatchError(
                f"{where} was created to {'/'.join(stored)} its objective, this search would "
                f"{self.direction} it: set hydra.sweeper.direction={stored[0]} to add trials to "
                "it, or choose another hydra.sweeper.study_name for a new study")
        space = describe_space(distributions)
        change = self.space_change(study, space)
        if change is not None:
            raise StudyMismatchError(
                f"{where} searches another space than this search: {change}. Search the same "
                "space to add trials to it, or choose another hydra.sweeper.study_name")
        study.set_user_attr(SPACE_ATTR, space)
        study.set_user_attr(PRUNER_ATTR, pruner)
        done = len(study.get_trials(deepcopy=False))
        seed = self.sampler_config.get("seed")
        if done and seed is not None:
            # The sampler, seeded as in the first search, would draw that search's trials
            # again (its random draws do not depend on the trials it sees).
            study.sampler = instantiate(self.sampler_config, seed=continued_seed(seed, done))
            log.info("The study holds %d trials: sampler seed %d continues as %d", done, seed,
                     continued_seed(seed, done))
        return study

    @staticmethod
    def space_change(study: optuna.Study, space: dict[str, Any]) -> str | None:
        """How `space` differs from the space the study stored (or, for a study stored
        without it, from the spaces its trials were asked over); None when it does not."""
        if SPACE_ATTR in study.user_attrs:
            return space_change(study.user_attrs[SPACE_ATTR], space)
        for trial in study.get_trials(deepcopy=False):
            if trial.distributions:
                change = space_change(describe_space(trial.distributions), space)
                if change is not None:
                    return f"trial {trial.number}: {change}"
        return None

    def run_trials(self, study: optuna.Study, storage: str | None,
                   distributions: dict[str, Any], fixed: dict[str, str]) -> None:
        """n_trials trials, asked and launched n_jobs at a time."""
        job_idx = 0
        while job_idx < self.n_trials:
            batch = min(self.n_jobs, self.n_trials - job_idx)
            trials: list[Trial] = []
            try:
                for _ in range(batch):
                    trials.append(study.ask(distributions))
                overrides = [self.trial_overrides(study, storage, trial, fixed)
                             for trial in trials]
                returns = self.launcher.launch(overrides, initial_job_idx=job_idx)
            except BaseException:  # an interrupted search leaves no trial RUNNING forever
                for trial in trials:
                    study.tell(trial, state=TrialState.FAIL)
                raise
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
    if stored.user_attrs.get(PRUNED_ATTR) is True:
        return TrialState.PRUNED, None
    if job.status != JobStatus.COMPLETED:
        return TrialState.FAIL, None
    value = job.return_value
    if not isinstance(value, int | float) or not math.isfinite(value):
        return TrialState.FAIL, None
    return TrialState.COMPLETE, float(value)


def continued_seed(seed: int, done: int) -> int:
    """The sampler seed of a search that continues a study of `done` trials begun with `seed`:
    `seed` itself for a new study (the same command proposes the same trials), else a seed
    derived from both, so that each resumed search draws new trials, the same ones again when
    the same searches are run again."""
    if done == 0:
        return seed
    digest = hashlib.sha256(f"{seed}/{done}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def format_value(value: Any) -> str:
    """A sampled value as override text (None as null)."""
    return "null" if value is None else str(value)


def quote(text: str) -> str:
    """`text` as a single-quoted override value."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
