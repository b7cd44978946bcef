"""Interrupted runs resume to the same result; a NaN loss stops a run with a clear message."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from conftest import FAST

RESUMABLE = FAST + [
    "model=tiny_bert", "data.max_train_samples=120", "hardware.train_batch_size=4",
    "trainer.num_train_epochs=2", "trainer.save_steps=10", "trainer.logging_steps=5",
    "trainer.save_total_limit=3",
]


def start(run_dir, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "qa_experiments.train", *RESUMABLE, *extra,
         f"hydra.run.dir={run_dir}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )


def kill_and_resume(tmp_path, *extra) -> None:
    """SIGKILL a run after its checkpoint-40, resume it, and check that it ends exactly like an
    uninterrupted run of the same settings (`extra` overrides for both)."""
    reference = start(tmp_path / "uninterrupted", *extra)
    assert reference.wait(timeout=600) == 0, reference.stderr.read()[-2000:]

    interrupted = start(tmp_path / "killed", *extra)
    checkpoints = tmp_path / "killed" / "checkpoints"
    deadline = time.monotonic() + 300
    while not list(checkpoints.glob("checkpoint-40")) and interrupted.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    interrupted.send_signal(signal.SIGKILL)
    interrupted.wait()
    assert not (tmp_path / "killed" / "results.json").exists(), "killed too late: raise steps"

    resumed = start(tmp_path / "killed", *extra, "resume=true")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()[-2000:]
    log = (tmp_path / "killed" / "train.log").read_text()
    assert "Resuming from" in log
    first, second = (json.loads((tmp_path / d / "results.json").read_text())
                     for d in ("uninterrupted", "killed"))
    assert second["f1"] == pytest.approx(first["f1"], abs=1e-6)
    assert second["exact_match"] == pytest.approx(first["exact_match"], abs=1e-6)
    assert json.loads((tmp_path / "killed" / "predictions.json").read_text()) == json.loads(
        (tmp_path / "uninterrupted" / "predictions.json").read_text())


def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    kill_and_resume(tmp_path)


def test_finished_run_is_not_overwritten_by_another_config(tmp_path):
    first = start(tmp_path / "run", "trainer.num_train_epochs=1")
    assert first.wait(timeout=600) == 0
    finished = (tmp_path / "run" / "results.json").read_bytes()
    other = start(tmp_path / "run", "trainer.num_train_epochs=1", "optimizer.lr=1e-3")
    assert other.wait(timeout=600) == 2
    assert "never overwritten" in other.stderr.read() + (tmp_path / "run" / "train.log").read_text()
    assert (tmp_path / "run" / "results.json").read_bytes() == finished


def test_nan_loss_stops_the_run_with_a_clear_message(tmp_path):
    done = start(tmp_path / "nan", "optimizer.lr=1e30", "trainer.max_grad_norm=0",
                 "trainer.num_train_epochs=1")
    assert done.wait(timeout=600) != 0
    log = (tmp_path / "nan" / "train.log").read_text()
    assert "training loss went non-finite" in log
    assert "last good checkpoint" in log
    assert json.loads((tmp_path / "nan" / "status.json").read_text())["status"] == "failed"
