"""Interrupted runs resume to the same result and whole-run figures; a NaN loss stops a run
with a clear message and no non-finite checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from helpers import assert_one_wandb_run_across_attempts, kill_and_resume, start, wandb_attempts


@pytest.fixture
def launcher_wandb_service(monkeypatch):
    """A live wandb-core service in the environment the jobs inherit, as from a notebook or a
    script that used W&B and then started qa-train: sharing it, a killed job's run stayed held
    there and the resume failed with "run ID ... is in use"."""
    launcher = subprocess.Popen(
        [sys.executable, "-c", "import os, sys, wandb; wandb.setup(); "
         "print(os.environ['WANDB_SERVICE'], flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    monkeypatch.setenv("WANDB_SERVICE", launcher.stdout.readline().strip())
    yield
    launcher.communicate("", timeout=60)


@pytest.mark.slow
def test_killed_run_resumes_to_the_uninterrupted_result_in_the_same_wandb_run(
        tmp_path, launcher_wandb_service):
    kill_and_resume(tmp_path, "logger=wandb", "logger.wandb.mode=offline")
    killed = tmp_path / "killed"
    # SIGKILL: W&B keeps only what it had written of the killed attempt (it writes its log
    # every few seconds); the resumed attempt logs the checkpoint's rows after those again, and
    # never a step the run holds: the history is the uninterrupted run's, each step once
    first, second = assert_one_wandb_run_across_attempts(killed, attempts=2)
    (reference,) = wandb_attempts(tmp_path / "uninterrupted")
    rows = first["rows"] + second["rows"]
    assert [row["_step"] for row in rows] == [row["_step"] for row in reference["rows"]]
    for key in ("train/loss", "train/learning_rate"):
        values = {row["_step"]: row[key] for row in rows if key in row}
        assert values == pytest.approx({row["_step"]: row[key] for row in reference["rows"]
                                        if key in row}), key
    results = json.loads((killed / "results.json").read_text())
    assert results["resumed_from_step"] == 30
    assert second["rows"][-1]["_step"] == results["train_steps"]
    # the summary holds whole-run figures, not the resumed attempt's
    assert second["summary"]["train/runtime_seconds"] == pytest.approx(results["train_runtime"])
    assert second["summary"]["eval/f1"] == pytest.approx(results["f1"])
    assert "train_runtime" not in second["summary"]


def test_nan_loss_stops_the_run_and_leaves_no_non_finite_checkpoint(tmp_path):
    """Logging is rare and saving frequent: the loss is checked at every step and the weights
    before every save, not only when the Trainer logs."""
    done = start(tmp_path / "nan", "optimizer.lr=1e30", "trainer.max_grad_norm=0",
                 "trainer.num_train_epochs=1", "trainer.logging_steps=1000",
                 "trainer.save_steps=2", "trainer.save_total_limit=null")
    assert done.wait(timeout=600) != 0
    log = (tmp_path / "nan" / "train.log").read_text()
    assert "went non-finite" in log and "last good checkpoint is" in log
    assert json.loads((tmp_path / "nan" / "status.json").read_text())["status"] == "failed"
    checkpoints = sorted((tmp_path / "nan" / "checkpoints").glob("checkpoint-*"))
    assert checkpoints, "the run broke before its first save: lower save_steps"
    for checkpoint in checkpoints:
        weights = load_file(checkpoint / "model.safetensors")
        assert all(torch.isfinite(w).all() for w in weights.values()), checkpoint
    named = log.split("last good checkpoint is ")[1].split(". ")[0]
    assert named == str(checkpoints[-1])
