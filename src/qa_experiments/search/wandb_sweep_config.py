"""The Optuna preset's search space as a W&B sweep configuration (`qa-wandb-sweep`).

Each W&B agent run calls `python -m qa_experiments.train key=value ...` with the sampled values
as Hydra overrides (`${args_no_hyphens}`), plus pruning.intermediate_eval=true so that each run
logs eval/f1 during training and Hyperband early termination can act. The caller registers
the schema and resolvers (`hydra_runtime.resolvers.register_config`) before `preset_space`
composes the preset.
"""

from __future__ import annotations

from typing import Any

import yaml
from hydra import compose, initialize_config_dir
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from qa_experiments.config.paths import config_dir
from qa_experiments.scoring.metric_names import F1_METRIC
from qa_experiments.search.search_space import parse_search_space

COMMAND = ["${env}", "${interpreter}", "-m", "qa_experiments.train", "${args_no_hyphens}"]
METRIC = {"name": F1_METRIC, "goal": "maximize"}
# Every run logs eval/f1 on the pruning slice at pruning.report_every, so that Hyperband has a
# history to compare runs on (a user's own pruning.* overrides come later and win).
INTERMEDIATE = ["pruning.intermediate_eval=true"]


def preset_space() -> list[str]:
    """The search space of conf/hparams_search/optuna.yaml as overrides."""
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=["hparams_search=optuna"], return_hydra_config=True)
    return [f"{key}={value}" for key, value in cfg.hydra.sweeper.params.items()]


def sweep_config(overrides: list[str], method: str, min_iter: int) -> dict[str, Any]:
    """The W&B sweep configuration of the preset's space with `overrides` applied."""
    distributions, fixed = parse_search_space(preset_space() + INTERMEDIATE + overrides)
    parameters = {key: wandb_parameter(d) for key, d in distributions.items()}
    parameters.update({key: {"value": yaml.safe_load(value)} for key, value in fixed.items()})
    return {"method": method, "metric": dict(METRIC), "parameters": parameters,
            "early_terminate": {"type": "hyperband", "min_iter": min_iter},
            "command": list(COMMAND)}


def wandb_parameter(distribution: BaseDistribution) -> dict[str, Any]:
    """One Optuna distribution in W&B's parameter syntax."""
    if isinstance(distribution, CategoricalDistribution):
        return {"values": list(distribution.choices)}
    bounds = {"min": distribution.low, "max": distribution.high}
    if isinstance(distribution, IntDistribution):
        if distribution.log:
            return {"distribution": "q_log_uniform_values", **bounds, "q": 1}
        if distribution.step != 1:
            return {"values": list(range(distribution.low, distribution.high + 1,
                                         distribution.step))}
        return {"distribution": "int_uniform", **bounds}
    assert isinstance(distribution, FloatDistribution)
    if distribution.log:
        return {"distribution": "log_uniform_values", **bounds}
    if distribution.step is not None:
        return {"distribution": "q_uniform", **bounds, "q": distribution.step}
    return {"distribution": "uniform", **bounds}


def schema_violations(config: dict[str, Any]) -> list[str] | None:
    """W&B's own check of a sweep config (the `sweeps` package of `wandb[sweeps]`); None when
    that package is not installed."""
    try:
        import sweeps
    except ImportError:
        return None
    return sweeps.schema_violations_from_proposed_config(config)
