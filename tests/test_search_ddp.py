"""An Optuna trial that is a two-rank DDP job (torchrun, gloo on CPU): rank 0 alone reports to
the trial, and its prune decision reaches both ranks, which stop together at the same step."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import optuna
import pytest

from helpers import FAST
from qa_experiments.search.optuna_storage import open_storage
from qa_experiments.search.trial_protocol import PRUNED_ATTR, PRUNER_ATTR, trial_environment

# 96 questions, 2 ranks x batch 8: several optimizer steps, a slice F1 reported at each.
TRIAL_JOB = [*FAST, "model=tiny_bert", "data.max_train_samples=96", "pruning.report_every=1",
             "pruning.eval_questions=8"]


def run_trial(tmp_path, pruner: dict) -> tuple[subprocess.CompletedProcess, optuna.Trial, list]:
    """Start a study whose pruner is `pruner`, run its trial as a 2-rank torchrun job pointed at
    it as the sweeper would (its environment variables); the process, the stored trial and the
    journal's intermediate-value records."""
    journal = tmp_path / "study.journal"
    spec = f"journal:{journal}"
    study = optuna.create_study(study_name="ddp", storage=open_storage(spec),
                                direction="maximize")
    study.set_user_attr(PRUNER_ATTR, pruner)
    trial = study.ask()
    done = subprocess.run(  # `python -m torch.distributed.run` is torchrun
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
         "-m", "qa_experiments.train", *TRIAL_JOB, f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1",
             **trial_environment("ddp", spec, trial.number)},
    )
    stored = optuna.load_study(study_name="ddp", storage=open_storage(spec)).trials[0]
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    reports = [r for r in records if "intermediate_value" in r]
    return done, stored, reports


@pytest.mark.slow
def test_a_pruned_ddp_trial_stops_every_rank_and_reports_once(tmp_path):
    done, trial, reports = run_trial(  # F1 is at most 100: certain to prune at the first report
        tmp_path, {"name": "threshold", "arguments": {"lower": 101.0}})
    assert done.returncode == 0, done.stderr[-3000:]  # both ranks ended (none hung)
    assert trial.user_attrs.get(PRUNED_ATTR) is True
    assert list(trial.intermediate_values) == [1]  # pruned at step 1, the first report
    assert len(reports) == 1  # rank 0 only: rank 1 never wrote a report into the study
    run = tmp_path / "run"
    assert json.loads((run / "status.json").read_text())["status"] == "pruned"
    assert json.loads((run / "intermediate.json").read_text())[-1]["step"] == 1
    assert not (run / "results.json").exists()
    log = (run / "train.log").read_text()  # both ranks log there: both stopped at step 1
    assert log.count("Step 1: F1 ") == 2 and "Step 2: F1" not in log
    assert log.count("Optuna trial pruned at step 1") == 2


@pytest.mark.slow
def test_a_ddp_trial_that_is_not_pruned_finishes_with_one_report_per_step(tmp_path):
    done, trial, reports = run_trial(tmp_path, {"name": "threshold", "arguments": {"lower": -1.0}})
    assert done.returncode == 0, done.stderr[-3000:]
    run = tmp_path / "run"
    results = json.loads((run / "results.json").read_text())
    assert results["world_size"] == 2
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    steps = results["train_steps"]
    assert steps >= 3
    assert sorted(trial.intermediate_values) == list(range(1, steps + 1))
    assert sorted(r["step"] for r in reports) == list(range(1, steps + 1))  # each once
    assert PRUNED_ATTR not in trial.user_attrs
    log = (run / "train.log").read_text()
    assert log.count(f"Step {steps}: F1 ") == 2  # both ranks evaluated at every step
