"""GPU slots held by real jobs: a killed job frees its slot, and a joblib sweep on a simulated
2-GPU list (CUDA_VISIBLE_DEVICES) gives each job its own GPU (the slot logic itself:
tests/unit/lifecycle/test_device_slots.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime

import pytest

from helpers import FAST
from qa_experiments.lifecycle.device_slots import SLOT_DIR_ENV, device_slot


def test_a_dead_job_frees_its_slot(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", (
        "import time; from pathlib import Path\n"
        "from qa_experiments.lifecycle.device_slots import device_slot\n"
        f"with device_slot([('0',)], 1, Path({str(tmp_path)!r})):\n"
        "    print('held', flush=True); time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "held\n"
    child.kill()
    child.wait()
    with device_slot([("0",)], 1, tmp_path, poll=0.01) as group:  # at once: the lock is gone
        assert group == ("0",)


def slot_times(train_log: str) -> tuple[str, datetime, datetime]:
    """(GPU list, held from, released at) of a job, from its train.log."""
    stamps = {}
    for line in train_log.splitlines():
        if "GPU slot: this job uses CUDA_VISIBLE_DEVICES=" in line:
            devices = line.rsplit("=", 1)[1].rstrip(".")
            stamps["from"] = line[1:24]
        elif "GPU slot " in line and line.endswith(" released."):
            stamps["to"] = line[1:24]
    parse = lambda stamp: datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")  # noqa: E731
    return devices, parse(stamps["from"]), parse(stamps["to"])


@pytest.mark.slow
def test_a_joblib_sweep_gives_each_job_its_own_gpu(tmp_path):
    # Three jobs at once on a (simulated) two-GPU machine: one waits for a free GPU.
    done = subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", "-m", *FAST, "hardware.device=auto",
         "hardware.precision=fp32", "model=tiny_bert", "hydra/launcher=joblib",
         "hydra.launcher.n_jobs=3", "optimizer.lr=1e-4,2e-4,3e-4",
         f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": "0,1",
             SLOT_DIR_ENV: str(tmp_path / "slots")},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    logs = [(tmp_path / "sweep" / str(i) / "train.log").read_text() for i in range(3)]
    held = [slot_times(log) for log in logs]
    assert {devices for devices, _, _ in held} <= {"0", "1"}
    for i, a in enumerate(held):
        for b in held[i + 1:]:
            assert not (a[0] == b[0] and a[1] < b[2] and b[1] < a[2]), (a, b)
    assert any("waiting for one to free up" in log for log in logs)
