"""Real multiruns in a subprocess: one W&B run and one result per job, failures isolated,
finished jobs reused when the sweep is run again, and the local comparison of all jobs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import FAST, find_key, wandb_state
from qa_experiments.analysis.comparison import collect_jobs
from qa_experiments.compare import main as compare_main

BACKBONES = ("tiny_bert", "tiny_distilbert", "tiny_roberta")


def multirun(sweep_dir, *overrides):
    return subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", "-m", *FAST, *overrides,
         f"hydra.sweep.dir={sweep_dir}"],
        capture_output=True, text=True, timeout=600,
    )


@pytest.mark.slow
def test_sweep_over_backbones_and_learning_rates(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    done = multirun(sweep, f"model={','.join(BACKBONES)}", "optimizer.lr=1e-4,5e-4",
                    "logger=wandb", "logger.wandb.mode=offline")
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [p.name for p in jobs] == [str(i) for i in range(6)]
    seen = set()
    for job in jobs:
        results = json.loads((job / "results.json").read_text())
        config = json.loads((job / "config.json").read_text())
        seen.add((config["model"]["name"], config["optimizer"]["lr"]))
        state = wandb_state(job)
        text = json.dumps(state)
        assert config["model"]["name_or_path"] in text and str(sweep.name) in text  # group
        assert find_key(state, "eval/f1") == pytest.approx(results["f1"])
        assert find_key(state, "train/samples_per_second") == pytest.approx(
            results["train_samples_per_second"])
    assert seen == {(b, lr) for b in BACKBONES for lr in (1e-4, 5e-4)}

    assert compare_main([str(sweep)]) == 0
    table = capsys.readouterr().out
    assert all(b in table for b in BACKBONES)
    assert sum(" finished " in line for line in table.splitlines()) == 6
    for name in ("comparison.md", "comparison.csv", "comparison.png"):
        assert (sweep / name).is_file()


@pytest.mark.slow
def test_failed_job_is_isolated_and_finished_jobs_are_reused(tmp_path):
    sweep = tmp_path / "sweep"
    # A negative learning rate is refused before the job starts: job 1 fails.
    done = multirun(sweep, "model=tiny_bert", "optimizer.lr=1e-4,-1.0")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {row.job: row for row in collect_jobs([sweep])}
    assert rows["0"].status == "finished" and rows["1"].status == "failed"
    assert "optimizer.lr=-1.0 is out of range" in rows["1"].error
    finished = {p.name: p.read_bytes() for p in (sweep / "0").rglob("*") if p.is_file()}

    again = multirun(sweep, "model=tiny_bert", "optimizer.lr=1e-4,-1.0")
    assert again.returncode == 0
    assert "reusing its results" in again.stdout
    assert {p.name: p.read_bytes() for p in (sweep / "0").rglob("*") if p.is_file()} == finished
    assert json.loads((sweep / "1" / "status.json").read_text())["status"] == "failed"

