"""GPUs of their own for the jobs of a sweep that run in parallel on one machine.

With `hydra/launcher=joblib` or `submitit_local`, every job would see every GPU of the machine
(and the Trainer would wrap the model in DataParallel). Here each such job holds a slot:
`hardware.gpus_per_job` GPUs (one by default) that its CUDA_VISIBLE_DEVICES then names, each GPU
shared by at most `hardware.jobs_per_gpu` jobs. A job that finds no free slot waits for one.

A slot is an OS file lock per GPU seat (`fcntl.flock`) in a per-user directory of the machine,
so jobs of several sweeps share the GPUs alike, and a job that dies frees its slot. SLURM, Ray
and torchrun assign GPUs themselves and are left alone. CUDA reads CUDA_VISIBLE_DEVICES once per
process: a worker process that ran a job on CUDA keeps its GPUs for its later jobs.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from qa_experiments.config.schema import ConfigError

log = logging.getLogger(__name__)

SLOT_DIR_ENV = "QA_DEVICE_SLOT_DIR"  # where the locks live (default: the temp dir, per user)
MACHINE_DEVICES_ENV = "QA_MACHINE_DEVICES"  # the GPU list before a job narrowed it
# Hydra launchers that run several jobs at once on this machine, by their class names.
PARALLEL_LAUNCHERS = ("JoblibLauncher", "LocalLauncher")  # hydra-joblib, submitit_local
POLL_SECONDS = 1.0


def machine_devices(environ: MutableMapping[str, str]) -> list[str]:
    """The GPUs the jobs may use: CUDA_VISIBLE_DEVICES as the sweep was started, else every GPU
    NVML counts (without initialising CUDA, so that the job's list can still be set)."""
    listed = environ.get(MACHINE_DEVICES_ENV, environ.get("CUDA_VISIBLE_DEVICES"))
    if listed is not None:
        return [device.strip() for device in listed.split(",") if device.strip()]
    import torch

    return [str(index) for index in range(torch.cuda.device_count())]


def device_groups(devices: Sequence[str], per_job: int) -> list[tuple[str, ...]]:
    """`devices` cut into disjoint slots of `per_job` GPUs; a remainder is left unused."""
    return [tuple(devices[i:i + per_job]) for i in range(0, len(devices) - per_job + 1, per_job)]


def try_hold(group: tuple[str, ...], seats: int, lock_dir: Path, stack: ExitStack) -> bool:
    """Lock one free seat of every GPU in `group` into `stack`; False (nothing held) if a GPU
    has none free."""
    held = ExitStack()
    for device in group:
        for seat in range(seats):
            handle = open(lock_dir / f"gpu-{device}.{seat}.lock", "a")  # noqa: SIM115 (held)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            held.callback(handle.close)  # closing the file releases its lock
            break
        else:
            held.close()
            return False
    stack.enter_context(held)
    return True


@contextmanager
def device_slot(groups: Sequence[tuple[str, ...]], seats: int, lock_dir: Path,
                poll: float = POLL_SECONDS) -> Iterator[tuple[str, ...]]:
    """Hold the first free group of `groups` (each GPU taking `seats` jobs) while the `with`
    body runs, waiting until one is free."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    waited = False
    with ExitStack() as stack:
        while True:
            group = next((g for g in groups if try_hold(g, seats, lock_dir, stack)), None)
            if group is not None:
                break
            if not waited:
                log.info("Every GPU slot is taken by other jobs: waiting for one to free up.")
                waited = True
            time.sleep(poll)
        yield group


def applies(hardware, launcher_target: str | None, multirun: bool,
            environ: MutableMapping[str, str]) -> bool:
    """Whether this job takes a slot: a job of a parallel local sweep that may use a GPU, not a
    rank of a distributed job, with hardware.gpus_per_job > 0."""
    parallel = multirun and any(name in (launcher_target or "") for name in PARALLEL_LAUNCHERS)
    return (parallel and hardware.device != "cpu" and hardware.gpus_per_job > 0
            and "RANK" not in environ)


def default_lock_dir() -> Path:
    """Where the slot locks live: QA_DEVICE_SLOT_DIR, else a per-user temporary directory."""
    return Path(os.environ.get(SLOT_DIR_ENV)
                or Path(tempfile.gettempdir()) / f"qa-experiments-gpu-slots-{os.getuid()}")


@contextmanager
def job_devices(hardware, launcher_target: str | None, multirun: bool,
                environ: MutableMapping[str, str] = os.environ) -> Iterator[tuple[str, ...] | None]:
    """Hold this job's GPU slot and narrow CUDA_VISIBLE_DEVICES to it while the `with` body
    runs; yields the GPUs (None when the job takes no slot, see `applies`)."""
    devices = machine_devices(environ) if applies(hardware, launcher_target, multirun,
                                                  environ) else []
    if not devices:
        yield None
        return
    groups = device_groups(devices, hardware.gpus_per_job)
    if not groups:
        raise ConfigError(f"hardware.gpus_per_job={hardware.gpus_per_job} but this machine "
                          f"shows {len(devices)} GPU(s) ({','.join(devices)}); lower it.")
    groups = pinned(groups, environ)
    environ[MACHINE_DEVICES_ENV] = ",".join(devices)
    with device_slot(groups, hardware.jobs_per_gpu, default_lock_dir()) as group:
        shown = environ["CUDA_VISIBLE_DEVICES"] = ",".join(group)
        log.info("GPU slot: this job uses CUDA_VISIBLE_DEVICES=%s.", shown)
        try:
            yield group
        finally:
            log.info("GPU slot %s released.", shown)


def pinned(groups: list[tuple[str, ...]], environ: MutableMapping[str, str]):
    """Only the GPUs this process already runs CUDA on, when an earlier job here initialised
    CUDA (its visible devices can no longer change); all `groups` otherwise."""
    import torch

    if not torch.cuda.is_initialized():
        return groups
    return [tuple(environ.get("CUDA_VISIBLE_DEVICES", "").split(","))]
