"""The same Optuna search with and without pruning, in one run: wall time and best dev F1 of
each (issue 11's target: pruning reaches the same best F1 within noise in at most 60% of the
time).

    python benchmarks/search.py         # 12 trials of MiniLM, 300 questions (~2 h on 2 cores)
    python benchmarks/search.py --trials 3 --model tiny_bert --train-questions 24 \\
        --eval-questions 12 --report-every 1 hardware=cpu data.max_seq_length=128 \\
        data.doc_stride=48 data.max_question_length=32   # a smoke test, seconds per trial

Both searches seed the TPE sampler alike and search learning rate and warmup for a fixed
number of epochs (--epochs): the epochs are the budget a pruner shares out, not a
hyperparameter (trials with other schedule lengths are at other points of their learning-rate
decay at a given step, so comparing them there favours the short ones). The pruned search uses
--pruner (default: successive halving with the project's settings, --pruner-option to change
them) on F1 over the first --pruning-questions dev questions, reported every --report-every
optimizer steps or each epoch (the project's defaults: each epoch, 200 questions). "Within
noise" is judged on the two best trials' per-question F1 over the same dev questions: a paired
bootstrap 95% interval of their difference (scipy.stats.bootstrap). Results go to stdout
(Markdown) and --output (JSON).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from scipy.stats import bootstrap

from qa_experiments.analysis.run_files import questions_path, read_questions
from qa_experiments.cli.arguments import positive_int


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--train-questions", type=int, default=300)
    parser.add_argument("--eval-questions", type=int, default=300)
    parser.add_argument("--pruning-questions", type=int, default=200)
    parser.add_argument("--report-every", default="epoch", type=report_every,
                        help="optimizer steps, or `epoch`")
    parser.add_argument("--epochs", type=positive_int, default=3, help="every trial's epochs")
    parser.add_argument("--pruner", default="successive_halving",
                        choices=["median", "percentile", "successive_halving", "hyperband"])
    parser.add_argument("--pruner-option", action="append", default=[], metavar="KEY=VALUE",
                        type=pruner_option,
                        help="a hydra.sweeper.pruner setting, e.g. n_startup_trials=3 "
                        "(repeatable)")
    parser.add_argument("--output", type=Path, default=Path("search_benchmark.json"))
    parser.add_argument("--sweep-dir", type=Path, default=None,
                        help="keep both sweeps (trials.csv, plots, jobs) here; default: a "
                        "temporary directory removed at the end")
    parser.add_argument("overrides", nargs="*", help="more Hydra overrides for every trial")
    args = parser.parse_args()
    if args.sweep_dir is not None and args.sweep_dir.exists() and any(args.sweep_dir.iterdir()):
        parser.error(f"--sweep-dir {args.sweep_dir} is not empty: its finished jobs would be "
                     "reused instead of timed; give a new directory")
    return args


def pruner_option(text: str) -> str:
    """KEY=VALUE, as a hydra.sweeper.pruner override takes it."""
    key, equals, _ = text.partition("=")
    if not (key and equals):
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return text


def report_every(text: str) -> str:
    """`epoch` or a whole number of steps >= 1, as pruning.report_every takes it."""
    if text != "epoch" and not (text.isdigit() and int(text) >= 1):
        raise argparse.ArgumentTypeError(f"{text!r} is neither `epoch` nor a number of steps")
    return text


# The search space both runs share; the epochs are fixed (see the module docstring).
SPACE = ["optimizer.lr=tag(log, interval(1e-5, 3e-4))", "optimizer.warmup=interval(0.0, 0.2)"]


def search_overrides(args: argparse.Namespace) -> list[str]:
    """The search both runs share: space, data sizes and a seeded sampler."""
    return [
        "hparams_search=optuna", "hydra.sweeper.params=null",
        f"hydra.sweeper.n_trials={args.trials}",
        *SPACE,
        f"trainer.num_train_epochs={args.epochs}", f"model={args.model}", "logger=none",
        f"data.max_train_samples={args.train_questions}",
        f"data.max_eval_samples={args.eval_questions}", "trainer.disable_tqdm=true",
        "trainer.save_strategy=no", f"pruning.report_every={args.report_every}",
        f"pruning.eval_questions={args.pruning_questions}", *args.overrides,
    ]


def pruners(args: argparse.Namespace) -> dict[str, list[str]]:
    """The searches to compare: no pruner, and --pruner with its --pruner-option settings."""
    return {
        "none": ["hydra/sweeper/pruner=none"],
        args.pruner: [f"hydra/sweeper/pruner={args.pruner}",
                      *(f"hydra.sweeper.pruner.{option}" for option in args.pruner_option)],
    }


def run_search(overrides: list[str], sweep_dir: Path) -> dict:
    """Run one search; its wall time, best F1 and trial states."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "qa_experiments.train", *overrides,
                    f"hydra.sweep.dir={sweep_dir}"], check=True, capture_output=True)
    seconds = time.perf_counter() - started
    best = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    with (sweep_dir / "trials.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    states = [row["state"] for row in rows]
    [best_row] = [row for row in rows if row["trial"] == str(best["best_trial"])]
    return {"wall_seconds": seconds, "best_f1": best["best_value"],
            "best_params": best["best_params"], "best_run_dir": best_row["run_dir"],
            "states": {state: states.count(state) for state in sorted(set(states))}}


def best_f1_difference(run_dir: str, baseline_run_dir: str) -> dict:
    """F1 of `run_dir` minus F1 of `baseline_run_dir` on the questions both evaluated, with a
    paired bootstrap 95% interval (percent points)."""
    scores = [{record["id"]: record["f1"] for record in read_questions(questions_path(Path(run)))}
              for run in (run_dir, baseline_run_dir)]
    ids = sorted(scores[0].keys() & scores[1].keys())
    ours, theirs = (np.array([score[i] for i in ids]) * 100 for score in scores)
    interval = bootstrap((ours, theirs), lambda a, b, axis: a.mean(axis) - b.mean(axis),
                         paired=True, vectorized=True, n_resamples=10_000, method="percentile",
                         rng=np.random.default_rng(0)).confidence_interval
    return {"difference": float(ours.mean() - theirs.mean()), "low": float(interval.low),
            "high": float(interval.high), "questions": len(ids)}


def check_overrides(overrides: list[str]) -> None:
    """Exit with Hydra's one-line error (status 2) when a search's overrides do not compose,
    before hours of the other search are spent. (Hydra prints no config for sweep syntax, so
    the space is left out of the check.)"""
    fixed = [override for override in overrides if override not in SPACE]
    done = subprocess.run([sys.executable, "-m", "qa_experiments.train", *fixed, "--cfg", "all"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        print(f"search.py: {done.stderr.strip().splitlines()[-1]}", file=sys.stderr)
        sys.exit(2)


def main() -> None:
    args = parse_args()
    for pruner in pruners(args).values():
        check_overrides(search_overrides(args) + pruner)
    results = {}
    print("| pruner | wall time (s) | time vs none | best F1 | trials |\n|---|---|---|---|---|",
          flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        sweeps = (args.sweep_dir or Path(scratch)).resolve()
        for name, pruner in pruners(args).items():  # each row as soon as its search ends
            result = run_search(search_overrides(args) + pruner, sweeps / name)
            results[name] = result
            ratio = result["wall_seconds"] / results["none"]["wall_seconds"]
            print(f"| {name} | {result['wall_seconds']:.0f} | {ratio:.2f} | "
                  f"{result['best_f1']:.2f} | {result['states']} |", flush=True)
            write_output(args, results)
        pruned = results[args.pruner]  # compared while the sweeps' files are there
        pruned["vs_none"] = best_f1_difference(pruned["best_run_dir"],
                                               results["none"]["best_run_dir"])
    print(noise_line(pruned["vs_none"]))
    write_output(args, results)


def write_output(args: argparse.Namespace, results: dict) -> None:
    args.output.write_text(json.dumps({"args": vars(args) | {"output": str(args.output)},
                                       "results": results}, indent=2, default=str))


def noise_line(difference: dict) -> str:
    """The best-F1 difference as a sentence, saying whether it is within noise."""
    low, high = difference["low"], difference["high"]
    verdict = "within noise" if low <= 0 <= high else "beyond noise"
    return (f"\nBest F1 with pruning minus without: {difference['difference']:+.2f} (paired "
            f"bootstrap 95% interval {low:+.2f} to {high:+.2f} over {difference['questions']} "
            f"questions): {verdict}.")


if __name__ == "__main__":
    main()
