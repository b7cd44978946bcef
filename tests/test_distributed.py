"""Two-process CPU data parallelism under torchrun (one job directory, written by rank 0), and
the ranks derived from SLURM's task variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers import FAST
from qa_experiments.lifecycle import slurm

# One task of a 2-node, 4-task SLURM job step (2 tasks per node), as srun sets it.
STEP = {"SLURM_STEP_NUM_TASKS": "4", "SLURM_PROCID": "3", "SLURM_LOCALID": "1",
        "SLURM_NODEID": "1", "SLURM_STEP_TASKS_PER_NODE": "2(x2)", "SLURM_JOB_ID": "12345",
        "SLURM_STEP_NODELIST": "node[01-02]", "MASTER_ADDR": "node01"}


@pytest.mark.slow
def test_torchrun_two_cpu_processes_share_one_run_dir(tmp_path):
    done = subprocess.run(  # `python -m torch.distributed.run` is torchrun, found without PATH
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
         "-m", "qa_experiments.train", *FAST, "model=tiny_bert", "logger=wandb",
         "logger.wandb.mode=offline"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    run_dirs = [p.parent for p in (tmp_path / "outputs").glob("*/*/.hydra")]
    assert len(run_dirs) == 1
    results = json.loads((run_dirs[0] / "results.json").read_text())
    assert results["world_size"] == 2
    assert len(list((run_dirs[0] / "wandb").glob("offline-run-*"))) == 1  # rank 0 only
    assert json.loads((run_dirs[0] / "status.json").read_text())["status"] == "finished"


def test_slurm_tasks_become_torch_distributed_ranks():
    environ = dict(STEP)
    slurm.export_distributed_env(environ)
    assert {k: environ[k] for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")} == {
        "RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    assert environ["MASTER_ADDR"] == "node01"
    assert environ["MASTER_PORT"] == str(slurm.master_port("12345"))


def test_slurm_env_leaves_torchrun_ranks_and_single_tasks_alone():
    under_torchrun = {**STEP, "RANK": "0"}
    slurm.export_distributed_env(under_torchrun)
    assert "WORLD_SIZE" not in under_torchrun
    one_task = {**STEP, "SLURM_STEP_NUM_TASKS": "1"}
    slurm.export_distributed_env(one_task)
    assert "RANK" not in one_task
    assert slurm.tasks_on_this_node({"SLURM_STEP_TASKS_PER_NODE": "2,1", "SLURM_NODEID": "1"}) == 1


def test_a_requeued_slurm_job_is_recognised():
    assert not slurm.requeued({})
    assert not slurm.requeued({"SLURM_RESTART_COUNT": "0"})
    assert slurm.requeued({"SLURM_RESTART_COUNT": "1"})


def test_a_slurm_job_uses_as_many_threads_as_it_has_cpus():
    import torch

    before = torch.get_num_threads()
    try:
        slurm.limit_cpu_threads({"SLURM_CPUS_PER_TASK": "1", "OMP_NUM_THREADS": "2"})
        assert torch.get_num_threads() == before  # the user's setting wins
        slurm.limit_cpu_threads({"SLURM_CPUS_PER_TASK": "1"})
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
