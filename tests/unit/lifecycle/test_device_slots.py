"""GPU slots for the jobs of a parallel local sweep: the assignment and the waiting, in one
process (tests/test_device_slot_jobs.py has real jobs: a killed one and a joblib sweep)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace

import pytest

from qa_experiments.config.schema import ConfigError
from qa_experiments.lifecycle import device_slots
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


def hold(stack: ExitStack, groups, seats: int, lock_dir: Path) -> tuple[str, ...]:
    """The group of a slot held into `stack`, as one more job would hold it (each open of a lock
    file is its own lock holder, so one process stands in for several jobs)."""
    return stack.enter_context(device_slot(groups, seats, lock_dir, poll=0))


def test_no_two_jobs_hold_one_gpu_and_the_third_waits(tmp_path, monkeypatch):
    groups = [("0",), ("1",)]
    events = []
    with ExitStack() as first, ExitStack() as others:
        held = [hold(first, groups, 1, tmp_path), hold(others, groups, 1, tmp_path)]
        assert sorted(held) == groups

        def wait(seconds):  # the third job found no free slot: the first job ends now
            events.append("waited")
            first.close()

        monkeypatch.setattr(device_slots.time, "sleep", wait)
        third = hold(others, groups, 1, tmp_path)
    assert events == ["waited"]  # it waited once, for the first job to end
    assert third == held[0]  # and took the slot that job freed


class Waited(Exception):
    """A job found no free slot."""


def test_jobs_share_a_gpu_when_asked(tmp_path, monkeypatch):
    def wait(seconds):
        raise Waited

    monkeypatch.setattr(device_slots.time, "sleep", wait)
    with ExitStack() as stack:  # jobs_per_gpu=2: both at once on GPU 0, a third waits
        assert [hold(stack, [("0",)], 2, tmp_path) for _ in range(2)] == [("0",), ("0",)]
        with pytest.raises(Waited):
            hold(stack, [("0",)], 2, tmp_path)


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
