"""`qa-wandb-sweep`: the Optuna preset's search space as a W&B sweep, so that `wandb agent` can
drive the same search: each agent run calls `python -m qa_experiments.train key=value ...` with
the sampled values as Hydra overrides (`${args_no_hyphens}`), plus pruning.intermediate_eval=true
so that each run logs eval/f1 during training and Hyperband early termination can act.

    qa-wandb-sweep                                 # writes wandb_sweep.yaml, prints next steps
    qa-wandb-sweep --method random 'optimizer.lr=tag(log, interval(1e-5, 1e-3))' data=squad
    qa-wandb-sweep --create --project qa           # creates the sweep (needs W&B credentials)

Positional arguments are the same overrides `hparams_search=optuna` takes: sweeps (choice(),
interval(), range(), ...) replace the preset's, plain values are fixed for every run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml
from hydra import compose, initialize_config_dir
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from hydra_plugins.qa_experiments_optuna.search_space import parse_search_space
from qa_experiments.paths import config_dir, register_resolvers
from qa_experiments.schema import register_schema
from qa_experiments.tracking import F1_METRIC

COMMAND = ["${env}", "${interpreter}", "-m", "qa_experiments.train", "${args_no_hyphens}"]
METRIC = {"name": F1_METRIC, "goal": "maximize"}
# Every run logs eval/f1 on the pruning slice at pruning.report_every, so that Hyperband has a
# history to compare runs on (a user's own pruning.* overrides come later and win).
INTERMEDIATE = ["pruning.intermediate_eval=true"]


def preset_space() -> list[str]:
    """The search space of conf/hparams_search/optuna.yaml as overrides."""
    register_schema()
    register_resolvers()
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="qa-wandb-sweep", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="search-space or fixed overrides")
    parser.add_argument("--method", choices=("bayes", "random"), default="bayes")
    parser.add_argument("--min-iter", type=int, default=1,
                        help="Hyperband's min_iter (times eval/f1 was logged)")
    parser.add_argument("--output", type=Path, default=Path("wandb_sweep.yaml"))
    parser.add_argument("--project", default="qa-experiments")
    parser.add_argument("--create", action="store_true",
                        help="create the sweep on W&B instead of only writing the YAML")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = sweep_config(args.overrides, args.method, args.min_iter)
    violations = schema_violations(config)
    if violations:
        print("qa-wandb-sweep: W&B refuses this sweep config: " + "; ".join(violations))
        return 2
    args.output.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    print(f"Wrote {args.output}" + (" (checked with W&B's sweep schema)" if violations == []
                                    else " (install wandb[sweeps] to check it)"))
    if args.create:
        import wandb

        sweep_id = wandb.sweep(config, project=args.project)
        print(f"Start agents with: wandb agent --project {args.project} {sweep_id}")
    else:
        print(f"Create it with: wandb sweep --project {args.project} {args.output}\n"
              "then start agents with the `wandb agent ...` command it prints.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
