"""`qa-wandb-sweep`: the Optuna preset's search space as a W&B sweep, so that `wandb agent` can
drive the same search (see `search.wandb_sweep_config`).

    qa-wandb-sweep                                 # writes wandb_sweep.yaml, prints next steps
    qa-wandb-sweep --method random 'optimizer.lr=tag(log, interval(1e-5, 1e-3))' data=squad
    qa-wandb-sweep --create --project qa           # creates the sweep (needs W&B credentials)

Positional arguments are the same overrides `hparams_search=optuna` takes: sweeps (choice(),
interval(), range(), ...) replace the preset's, plain values are fixed for every run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from qa_experiments.cli.arguments import (
    ArgumentParser,
    check_output_path,
    positive_int,
    writing,
)
from qa_experiments.cli.errors import run_command
from qa_experiments.errors import UserError, extra, needs_package
from qa_experiments.hydra_runtime.resolvers import register_config

PROG = "qa-wandb-sweep"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ArgumentParser(prog=PROG, description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("overrides", nargs="*", help="search-space or fixed overrides")
    parser.add_argument("--method", choices=("bayes", "random"), default="bayes")
    parser.add_argument("--min-iter", type=positive_int, default=1,
                        help="Hyperband's min_iter (times eval/f1 was logged)")
    parser.add_argument("--output", type=Path, default=Path("wandb_sweep.yaml"))
    parser.add_argument("--project", default="qa-experiments")
    parser.add_argument("--create", action="store_true",
                        help="create the sweep on W&B instead of only writing the YAML")
    return parser.parse_args(argv)


def write_sweep(args: argparse.Namespace) -> int:
    """Build, check and write the sweep config; create the sweep with --create."""
    check_output_path(args.output, "--output")
    # the `sweep` extra brings Optuna, whose distributions describe the search space
    with needs_package(PROG, extra("sweep")):
        from qa_experiments.search import wandb_sweep_config
    register_config()
    config = wandb_sweep_config.sweep_config(args.overrides, args.method, args.min_iter)
    violations = wandb_sweep_config.schema_violations(config)
    if violations:
        raise UserError("W&B refuses this sweep config: " + "; ".join(violations))
    with writing(args.output, what="--output"):
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


def main(argv: list[str] | None = None) -> int:
    """Console entry point; one line and exit 2 for a bad override, option or output path,
    exit 1 when the output cannot be written."""
    return run_command(PROG, lambda: write_sweep(parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
