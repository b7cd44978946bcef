"""GPU slots for the jobs of a parallel local sweep: the assignment, the waiting, and a real
joblib sweep on a simulated 2-GPU list (CUDA_VISIBLE_DEVICES), each job seeing its own GPU."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers import FAST
from qa_experiments.config.schema import ConfigError
from qa_experiments.lifecycle.device_slots import (
    MACHINE_DEVICES_ENV,
    SLOT_DIR_ENV,
    applies,
    device_groups,
    device_slot,
    job_devices,
)

JOBLIB = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
SUBMITIT_LOCAL = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"
SLURM = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
BASIC = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"


def hardware(device="auto", gpus_per_job=1, jobs_per_gpu=1):
    return SimpleNamespace(device=device, gpus_per_job=gpus_per_job, jobs_per_gpu=jobs_per_gpu)


def test_slots_are_disjoint_groups_of_gpus_per_job():
    assert device_groups(["0", "1", "2", "3"], 1) == [("0",), ("1",), ("2",), ("3",)]
    assert device_groups(["0", "1", "2"], 2) == [("0", "1")]  # GPU 2 would be half a slot
    assert device_groups(["3", "5"], 3) == []


def test_only_jobs_of_a_parallel_local_sweep_on_gpus_take_a_slot():
    assert applies(hardware(), JOBLIB, True, {})
    assert applies(hardware(), SUBMITIT_LOCAL, True, {})
    assert not applies(hardware(), BASIC, True, {})  # one job at a time
    assert not applies(hardware(), SLURM, True, {})  # SLURM assigns GPUs itself
    assert not applies(hardware(), JOBLIB, False, {})  # a single run sees every GPU
    assert not applies(hardware(device="cpu"), JOBLIB, True, {})
    assert not applies(hardware(gpus_per_job=0), JOBLIB, True, {})  # asked to share all
    assert not applies(hardware(), JOBLIB, True, {"RANK": "1"})  # torchrun/SLURM rank


def hold(groups, seats, lock_dir, seconds, queue):
    with device_slot(groups, seats, Path(lock_dir), poll=0.02) as group:
        start = time.monotonic()
        time.sleep(seconds)
        queue.put((group, start, time.monotonic()))


def hold_in_processes(tmp_path, count: int, groups, seats: int) -> list[tuple]:
    """`count` processes each hold a slot of `groups` for 0.6 s; (group, start, end) each."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    processes = [context.Process(target=hold, args=(groups, seats, tmp_path, 0.6, queue))
                 for _ in range(count)]
    for process in processes:
        process.start()
    held = [queue.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    return held


def overlap(a, b) -> bool:
    return a[1] < b[2] and b[1] < a[2]


def test_no_two_jobs_hold_one_gpu_and_the_third_waits(tmp_path):
    held = hold_in_processes(tmp_path, 3, [("0",), ("1",)], seats=1)
    for i, a in enumerate(held):
        for b in held[i + 1:]:
            assert not (a[0] == b[0] and overlap(a, b)), (a, b)
    assert {group for group, _, _ in held} == {("0",), ("1",)}
    assert not all(overlap(a, b) for a in held for b in held)  # one waited for a free slot


def test_jobs_share_a_gpu_when_asked(tmp_path):
    held = hold_in_processes(tmp_path, 2, [("0",)], seats=2)
    assert overlap(held[0], held[1])  # jobs_per_gpu=2: both at once on GPU 0


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


def test_each_job_sees_its_slot_and_the_machine_list_survives(tmp_path, monkeypatch):
    monkeypatch.setenv(SLOT_DIR_ENV, str(tmp_path))
    environ = {"CUDA_VISIBLE_DEVICES": "4,5,6,7"}
    with job_devices(hardware(gpus_per_job=2), JOBLIB, True, environ) as first:
        assert first == ("4", "5") and environ["CUDA_VISIBLE_DEVICES"] == "4,5"
        with job_devices(hardware(gpus_per_job=2), JOBLIB, True, environ) as second:
            # a second job (in this process, as a joblib worker runs its next one) still sees
            # the machine's four GPUs, not the first job's two
            assert second == ("6", "7") and environ["CUDA_VISIBLE_DEVICES"] == "6,7"
    assert environ[MACHINE_DEVICES_ENV] == "4,5,6,7"
    with pytest.raises(ConfigError, match="gpus_per_job=5 but this machine shows 4 GPU"):
        with job_devices(hardware(gpus_per_job=5), JOBLIB, True, environ):
            pass


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
