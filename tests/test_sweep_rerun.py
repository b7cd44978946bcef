"""A grid sweep ends with one summary line, and a re-run of it with other values is refused
before any job starts instead of refusing its jobs one by one (real sweeps, tiny models)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import FAST


def sweep(sweep_dir, *overrides) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", "-m", *FAST, "model=tiny_bert",
         *overrides, f"hydra.sweep.dir={sweep_dir}"],
        capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_sweep_summary_and_a_rerun_with_other_values(tmp_path):
    sweep_dir = tmp_path / "sweep"
    first = sweep(sweep_dir, "optimizer.lr=1e-3,2e-3")
    assert first.returncode == 0, first.stderr[-2000:]
    summary = first.stdout.strip().splitlines()[-1]
    results = [json.loads((sweep_dir / n / "results.json").read_text()) for n in ("0", "1")]
    best = max(results, key=lambda r: r["f1"])
    assert summary.startswith(f"Sweep {sweep_dir}: 2 jobs: 2 finished; best F1 {best['f1']:.2f}")
    assert summary.endswith(f"Compare them: qa-compare {sweep_dir}")

    # One more value in the middle: job 1 would now mean lr 5e-3, job 2 lr 2e-3.
    changed = sweep(sweep_dir, "optimizer.lr=1e-3,5e-3,2e-3")
    assert changed.returncode == 2 and changed.stdout == "", changed.stdout
    (line,) = changed.stderr.strip().splitlines()
    assert line.startswith("qa-train: error: ")
    assert "already holds job 1 with other settings" in line
    assert not (sweep_dir / "2").exists()  # no job started

    same = sweep(sweep_dir, "optimizer.lr=1e-3,2e-3", "resume=true")  # resume is no new setting
    assert same.returncode == 0 and "reusing its results" in same.stdout, same.stderr[-2000:]
    assert same.stdout.strip().splitlines()[-1] == summary


def test_a_sweep_in_which_every_job_failed_exits_1_with_one_error_line(tmp_path):
    sweep_dir = tmp_path / "sweep"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    done = sweep(sweep_dir, "data=local", f"data.train_file={bad}", f"data.eval_file={bad}",
                 "optimizer.lr=1e-3,2e-3")
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1].startswith(
        f"Sweep {sweep_dir}: 2 jobs: 2 failed. ")
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("qa-train:")]
    assert line.startswith("qa-train: error: every job of the sweep failed (job 0: ")
    assert "DataError: " in line and line.endswith(f"qa-compare {sweep_dir}")
