"""The sweeper's structured config, registered as `hydra/sweeper=optuna` with the sampler
(`tpe`, `random`, `cmaes`, `gp`) and pruner (`none`, `median`, `percentile`,
`successive_halving`, `hyperband`, `threshold`) groups below it. The keys follow Hydra's
Optuna sweeper 1.3.

No `from __future__ import annotations` here: Hydra's plugin scan runs this module outside
sys.modules, where dataclasses cannot resolve string annotations."""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class TPESamplerConfig:
    _target_: str = "optuna.samplers.TPESampler"
    seed: int | None = None
    n_startup_trials: int = 10
    n_ei_candidates: int = 24
    multivariate: bool = False
    constant_liar: bool = False  # True: parallel trials of a batch avoid each other


@dataclass
class RandomSamplerConfig:
    _target_: str = "optuna.samplers.RandomSampler"
    seed: int | None = None


@dataclass
class CmaEsSamplerConfig:
    _target_: str = "optuna.samplers.CmaEsSampler"
    seed: int | None = None
    n_startup_trials: int = 1
    sigma0: float | None = None
    restart_strategy: str | None = None
    use_separable_cma: bool = False
    warn_independent_sampling: bool = True


@dataclass
class GPSamplerConfig:
    _target_: str = "optuna.samplers.GPSampler"
    seed: int | None = None
    n_startup_trials: int = 10
    deterministic_objective: bool = False


@dataclass
class NopPrunerConfig:
    _target_: str = "optuna.pruners.NopPruner"


@dataclass
class MedianPrunerConfig:
    _target_: str = "optuna.pruners.MedianPruner"
    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class PercentilePrunerConfig:
    _target_: str = "optuna.pruners.PercentilePruner"
    percentile: float = 25.0
    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class SuccessiveHalvingPrunerConfig:
    _target_: str = "optuna.pruners.SuccessiveHalvingPruner"
    min_resource: Any = "auto"
    reduction_factor: int = 4
    min_early_stopping_rate: int = 0
    bootstrap_count: int = 0


@dataclass
class HyperbandPrunerConfig:
    _target_: str = "optuna.pruners.HyperbandPruner"
    min_resource: int = 1
    max_resource: Any = "auto"
    reduction_factor: int = 3
    bootstrap_count: int = 0


@dataclass
class ThresholdPrunerConfig:
    """Prunes a trial whose score falls below `lower` (or rises above `upper`); set one."""

    _target_: str = "optuna.pruners.ThresholdPruner"
    lower: float | None = None
    upper: float | None = None
    n_warmup_steps: int = 0
    interval_steps: int = 1


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.qa_experiments_optuna.optuna_sweeper.OptunaSweeper"
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "none"}])
    sampler: Any = MISSING  # MISSING, not None: the defaults list above fills them in
    pruner: Any = MISSING
    direction: str = "maximize"  # the task returns dev F1 (Hydra's own sweeper: minimize)
    storage: str | None = None  # sqlite:///optuna.db, journal:optuna.journal; None: in memory
    study_name: str | None = None
    n_trials: int = 20
    n_jobs: int = 2  # trials asked per batch, launched together
    max_failure_rate: float = 0.0  # a batch with more failed trials than this ends the sweep
    params: dict[str, str] | None = None


SAMPLERS = {"tpe": TPESamplerConfig, "random": RandomSamplerConfig, "cmaes": CmaEsSamplerConfig,
            "gp": GPSamplerConfig}
PRUNERS = {"none": NopPrunerConfig, "median": MedianPrunerConfig,
           "percentile": PercentilePrunerConfig,
           "successive_halving": SuccessiveHalvingPrunerConfig,
           "hyperband": HyperbandPrunerConfig, "threshold": ThresholdPrunerConfig}


def register() -> None:
    """Store the sweeper and its sampler/pruner choices in Hydra's ConfigStore."""
    store = ConfigStore.instance()
    store.store(group="hydra/sweeper", name="optuna", node=OptunaSweeperConf, provider="qa")
    for group, nodes in (("sampler", SAMPLERS), ("pruner", PRUNERS)):
        for name, node in nodes.items():
            store.store(group=f"hydra/sweeper/{group}", name=name, node=node, provider="qa")


register()
