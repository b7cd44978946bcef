"""Interrupted runs resume to the same result and whole-run figures; a NaN loss stops a run
with a clear message and no non-finite checkpoint."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

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


@pytest.mark.slow
def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path):
    kill_and_resume(tmp_path)


def kill_and_resume(tmp_path, *extra) -> None:
    """SIGKILL a run after checkpoint-40 began; checkpoint-40 then reads as damaged (empty
    trainer_state.json), so the resume must fall back to checkpoint-30 and end exactly like an
    uninterrupted run with the same `extra` overrides."""
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
    (checkpoints / "checkpoint-40" / "trainer_state.json").write_text("")
    ledger = json.loads((checkpoints / "checkpoint-30" / "trainer_state.json").read_text())[
        "stateful_callbacks"]["RunLedger"]["attributes"]

    resumed = start(tmp_path / "killed", *extra, "resume=true")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()[-2000:]
    log = (tmp_path / "killed" / "train.log").read_text()
    assert re.search(r"Skipping \S+/checkpoint-40: ", log)  # incomplete or unreadable
    assert re.search(r"Resuming from \S+/checkpoint-30\n", log)
    first, second = (json.loads((tmp_path / d / "results.json").read_text())
                     for d in ("uninterrupted", "killed"))
    assert second["f1"] == pytest.approx(first["f1"], abs=1e-6)
    assert second["exact_match"] == pytest.approx(first["exact_match"], abs=1e-6)
    assert json.loads((tmp_path / "killed" / "predictions.json").read_text()) == json.loads(
        (tmp_path / "uninterrupted" / "predictions.json").read_text())

    # Whole-run figures: the resumed run's totals match the uninterrupted run's.
    assert (first["resumed"], first["resumed_from_step"]) == (False, None)
    assert (second["resumed"], second["resumed_from_step"]) == (True, 30)
    assert second["train_loss"] == pytest.approx(first["train_loss"], rel=1e-6)
    assert second["train_steps"] == first["train_steps"]
    for rate in ("train_samples_per_second", "train_tokens_per_second"):
        total = second[rate] * second["train_runtime"]
        assert total == pytest.approx(first[rate] * first["train_runtime"], rel=1e-6), rate
    assert second["train_runtime"] > ledger["seconds"] > 0  # both parts of the training


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
