"""What a job learns from SLURM's environment: whether it was requeued, its DDP rank and its
CPUs.

SLURM starts every task of a job itself (`srun`, or submitit's `tasks_per_node`): there is no
torchrun to set the variables that torch.distributed reads, so they are derived from SLURM's.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import MutableMapping


def requeued(environ: MutableMapping[str, str] = os.environ) -> bool:
    """True when SLURM restarted this job (requeued after a preemption or a time limit)."""
    return int(environ.get("SLURM_RESTART_COUNT") or 0) > 0


def limit_cpu_threads(environ: MutableMapping[str, str] = os.environ) -> None:
    """Use as many CPU threads as the job step has CPUs (SLURM_CPUS_PER_TASK) unless
    OMP_NUM_THREADS says otherwise: PyTorch would start one per core of the node, and its
    threads then wait on each other where the other cores are busy (about 10x slower measured)."""
    cpus = environ.get("SLURM_CPUS_PER_TASK")
    if cpus and "OMP_NUM_THREADS" not in environ:
        import torch

        torch.set_num_threads(int(cpus))


def export_distributed_env(environ: MutableMapping[str, str] = os.environ) -> None:
    """Set RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT from
    SLURM's task variables in a job step of several tasks; untouched otherwise (one task, or
    ranks that torchrun already set)."""
    if "RANK" in environ or int(environ.get("SLURM_STEP_NUM_TASKS") or 1) <= 1:
        return
    environ.update(
        RANK=environ["SLURM_PROCID"],
        WORLD_SIZE=environ["SLURM_STEP_NUM_TASKS"],
        LOCAL_RANK=environ["SLURM_LOCALID"],
        LOCAL_WORLD_SIZE=str(tasks_on_this_node(environ)),
        MASTER_ADDR=environ.get("MASTER_ADDR") or first_host(environ["SLURM_STEP_NODELIST"]),
        MASTER_PORT=environ.get("MASTER_PORT") or str(master_port(environ["SLURM_JOB_ID"])),
    )


def tasks_on_this_node(environ: MutableMapping[str, str]) -> int:
    """How many tasks of the step run on this node (SLURM_STEP_TASKS_PER_NODE reads e.g.
    `2(x3)` or `2,1`; this node's entry is SLURM_NODEID)."""
    counts: list[int] = []
    for part in environ["SLURM_STEP_TASKS_PER_NODE"].split(","):
        count, _, repeat = part.partition("(x")
        counts += [int(count)] * int(repeat.rstrip(")") or 1)
    return counts[int(environ.get("SLURM_NODEID") or 0)]


def first_host(nodelist: str) -> str:
    """The first host of a SLURM node list (`node[01-04]` -> `node01`): rank 0 runs there."""
    hosts = subprocess.run(["scontrol", "show", "hostnames", nodelist], check=True,
                           capture_output=True, text=True).stdout.split()
    return hosts[0]


def master_port(job_id: str) -> int:
    """A rendezvous port that every task of the job derives alike, different between jobs."""
    return 20000 + int(job_id) % 20000
