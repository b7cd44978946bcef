"""Who may write into a run directory: a job claims it only after checking what it holds.

Hydra would write `.hydra/` and open `train.log` before the task runs; conf/config.yaml turns
both off (`hydra.output_subdir: null`, and `hydra/job_logging: qa`, whose train.log opens at its
first record) so that a job refused here, or one that reuses a finished run, leaves every file
of that directory byte-identical.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from qa_experiments.config.schema import ConfigError
from qa_experiments.runs import layout
from qa_experiments.runs.atomic import write_text
from qa_experiments.runs.directory_lock import open_directory, try_lock

log = logging.getLogger(__name__)

# Settings that do not change what a job computes: a resume or a re-run may change them.
NOT_IDENTITY = ("resume", "logger.wandb.mode")


class RunDirError(ConfigError):
    """The run directory holds another job; the message says how to start a new run."""


@contextlib.contextmanager
def owned(run_dir: Path) -> Iterator[None]:
    """Hold `run_dir` for this process while the block runs: an exclusive lock on the
    directory itself (flock), which the OS drops however the process ends, so a crash never
    leaves it behind and nothing is written for it. RunDirError at once, before anything is
    read or written, while another live process holds it. Only the writing process locks (the
    other ranks of a DDP job share the directory)."""
    if not layout.is_writer():
        yield
        return
    run_dir.mkdir(parents=True, exist_ok=True)  # Hydra has made it, unless called from Python
    handle = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if try_lock(handle, exclusive=True) is False:
            raise RunDirError(
                f"{run_dir} is in use by another running job (the same or another command); "
                "it is left untouched. Wait for that job to end, or choose another "
                "hydra.run.dir / hydra.sweep.dir."
            )
        yield
    finally:
        os.close(handle)


@contextlib.contextmanager
def kept_from_jobs(path: Path, what: str = "--out") -> Iterator[None]:
    """While the block writes `what` at `path`: a shared lock on every existing directory at
    and above it, so that no job claims one of them meanwhile (`owned` is refused, as for a
    second job). RunDirError at once, before the block runs, when a live job holds one of them
    already: no command writes into a run directory while its job runs there. The lock is
    `owned`'s own (flock), tried without waiting and held only for the block."""
    path = Path(path).expanduser().resolve()
    held: list[int] = []
    try:
        for directory in (path, *path.parents):
            handle = open_directory(directory)
            if handle is None:
                continue
            held.append(handle)
            if try_lock(handle, exclusive=False) is False:
                where = "is" if directory == path else f"lies in {str(directory)!r},"
                raise RunDirError(
                    f"{what} {str(path)!r} {where} a directory that a running job holds "
                    "(qa-train writing its run there); nothing is written. Wait for that job "
                    "to end, or give a path outside it.")
        yield
    finally:
        for handle in held:
            os.close(handle)  # releases the lock


@dataclass(frozen=True)
class Owner:
    """The live process that holds a run directory (`owned`); `pid` None where the system
    does not say (no /proc/locks)."""

    pid: int | None


def live_owner(run_dir: Path) -> Owner | None:
    """The live job that holds `run_dir` now (qa-train writing its run there), else None (no
    job, or one that ended however it ended: the OS drops its lock). Tried without waiting;
    nothing is written."""
    handle = open_directory(Path(run_dir))
    if handle is None:
        return None
    try:
        if try_lock(handle, exclusive=False) is False:
            return Owner(_lock_holder(os.fstat(handle)))
        return None
    finally:
        os.close(handle)  # releases the shared lock if it was taken


def _lock_holder(stat: os.stat_result) -> int | None:
    """The pid that holds the exclusive flock on the file of `stat`, from /proc/locks (Linux;
    lines `N: FLOCK ADVISORY WRITE PID MAJOR:MINOR:INODE 0 EOF`); None where it is not listed."""
    device = f"{os.major(stat.st_dev):02x}:{os.minor(stat.st_dev):02x}:{stat.st_ino}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if fields[1:4] == ["FLOCK", "ADVISORY", "WRITE"] and fields[5:6] == [device]:
            return int(fields[4]) if fields[4].isdigit() else None
    return None


def check_not_held(path: Path, what: str = "--out") -> None:
    """RunDirError when a live job holds `path` or a directory above it (`kept_from_jobs`)."""
    with kept_from_jobs(path, what):
        pass


def claim(run_dir: Path, overrides: list[str], config: dict[str, Any],
          resume: bool) -> dict | None:
    """The results of the same job if it already finished in `run_dir`, else None (the job may
    write there). RunDirError for a finished run of another job, or a resume that would
    continue another job than the interrupted one."""
    status = layout.read_json(run_dir / layout.STATUS)
    if not isinstance(status, dict):
        check_not_foreign(run_dir)
        return None
    finished = status.get("status") == layout.FINISHED
    if not finished and not resume:
        return None  # an unfinished run is started over
    differences = job_differences(status.get("overrides", []), overrides,
                                  layout.read_json(run_dir / layout.CONFIG), config)
    if differences and finished:
        raise RunDirError(
            f"{run_dir} already holds a finished run with other settings ({differences}); it is "
            "never overwritten. Choose another hydra.run.dir / hydra.sweep.dir."
        )
    if differences:
        raise RunDirError(
            f"resume=true continues the interrupted run in {run_dir} unchanged, but these "
            f"settings differ: {differences}. To start a new run with them instead, run the "
            "command without resume=true and with another hydra.run.dir (or none)."
        )
    return layout.read_json(run_dir / layout.RESULTS) if finished else None


def check_not_foreign(run_dir: Path) -> None:
    """RunDirError for a non-empty directory that holds no run of this framework (no readable
    status.json): its files are never removed as "an earlier attempt"."""
    foreign = layout.foreign_entries(run_dir)
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise RunDirError(
            f"{run_dir} is not empty and holds no run of qa-experiments (no readable "
            f"{layout.STATUS}; it has {shown}); nothing in it is touched. Choose a new or "
            "empty hydra.run.dir."
        )


def job_differences(previous_overrides: list[str], overrides: list[str],
                    previous_config: dict | None, config: dict[str, Any]) -> str:
    """The overrides (else resolved settings) that differ from the earlier job's, as
    `key=now (was: before)`; empty when the job is the same."""
    before, now = _identity(_settings(previous_overrides)), _identity(_settings(overrides))
    if before == now and previous_config is not None:
        before = _identity(_flatten(previous_config))
        now = _identity(_flatten(json.loads(json.dumps(config))))
    return "; ".join(
        f"{key}={now.get(key, 'default')} (was: {before.get(key, 'default')})"
        for key in sorted(before.keys() | now.keys()) if before.get(key) != now.get(key)
    )


def _identity(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k not in NOT_IDENTITY}


def _settings(overrides: list[str]) -> dict[str, str]:
    pairs = (o.lstrip("+~").split("=", 1) for o in overrides)
    return {p[0]: p[1] if len(p) > 1 else "<deleted>" for p in pairs}


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix.rstrip("."): tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(_flatten(value, f"{prefix}{key}."))
    return flat


def hold_log_files() -> list[logging.FileHandler]:
    """Take the job's log files off the root logger until the run directory is claimed."""
    root = logging.getLogger()
    held = [h for h in root.handlers if isinstance(h, logging.FileHandler)]
    for handler in held:
        root.removeHandler(handler)
    return held


def attach_log_files(held: list[logging.FileHandler]) -> None:
    """Put the held log files back: the job owns its run directory now."""
    for handler in held:
        logging.getLogger().addHandler(handler)


def close_log_files(held: list[logging.FileHandler]) -> None:
    """Drop the held log files unopened (they are delayed): the directory is not this job's."""
    for handler in held:
        handler.close()


def save_hydra_files(run_dir: Path, task_cfg, hydra_cfg) -> None:
    """Write `.hydra/config.yaml`, `hydra.yaml` and `overrides.yaml` as Hydra would, unless
    Hydra already did (a user-set `hydra.output_subdir`)."""
    if hydra_cfg.hydra.output_subdir is not None:
        return
    for name, node in (("config.yaml", task_cfg), ("hydra.yaml", hydra_cfg),
                       (layout.OVERRIDES, hydra_cfg.hydra.overrides.task)):
        write_text(run_dir / layout.HYDRA_DIR / name, OmegaConf.to_yaml(node))


def start_over(run_dir: Path) -> None:
    """Remove the checkpoints of an earlier attempt in `run_dir`: a job started without
    resume=true must never be continued later from another job's checkpoint."""
    checkpoints = run_dir / layout.CHECKPOINTS_DIR
    if checkpoints.is_dir():
        log.warning("Starting over in %s: removing the checkpoints of the earlier attempt (add "
                    "resume=true to continue an interrupted run instead).", run_dir)
        shutil.rmtree(checkpoints)



def remove_checkpoints(run_dir: Path) -> None:
    """Remove the checkpoints of a finished run: it is never resumed, and its `model/` holds the
    final weights (see runs.layout)."""
    shutil.rmtree(run_dir / layout.CHECKPOINTS_DIR, ignore_errors=True)


def remove_earlier_outputs(run_dir: Path) -> None:
    """Remove what an earlier, unfinished attempt in `run_dir` left (its results, predictions,
    model, report): until this attempt writes its own, they would describe a result that the
    run directory does not hold, and stay beside a `failed` status if this attempt fails."""
    earlier = [run_dir / name for name in layout.ATTEMPT_OUTPUTS if (run_dir / name).exists()]
    if earlier:
        log.warning("Removing what an earlier, unfinished attempt left in %s: %s.", run_dir,
                    ", ".join(path.name for path in earlier))
    for path in earlier:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


def remove_stale_temp_files(run_dir: Path) -> None:
    """Delete the `.NAME.*.tmp` files and directories a killed writer left (see atomic.py)."""
    for path in run_dir.glob(".*.tmp"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
