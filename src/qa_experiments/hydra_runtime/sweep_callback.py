"""The Hydra callback of every sweep (`hydra.callbacks.sweep` in conf/config.yaml).

Before any job starts, a re-run of a grid sweep into a sweep directory whose job numbers now
stand for other settings (a value added or removed) is refused in one line: its jobs would be
refused one by one, nothing recorded, and the new values never run. After the last job, one
line sums the sweep up: its jobs by status, the best F1, and the qa-compare command; a sweep
in which every job failed then ends with one error line and exit status 1 (a sweep with some
finished jobs exits 0: its summary line counts the failed ones).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from qa_experiments.analysis.comparison import JobRow, collect_jobs
from qa_experiments.errors import Failure, PassingError, one_line
from qa_experiments.runs import layout
from qa_experiments.runs.claim import RunDirError, job_differences

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
JOB_NUMBER_SUBDIR = "${hydra.job.num}"


class SweepCallback(Callback):
    """Checks a grid sweep's directory before its jobs start; sums the sweep up at its end."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_job_numbers(config.hydra)
        except RunDirError as error:  # Hydra turns a callback's Exception into a warning
            raise PassingError(error) from error

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        rows = collect_jobs([sweep_dir])
        print(sweep_summary(sweep_dir, rows))
        if rows and all(row.status == layout.FAILED for row in rows):
            sys.stdout.flush()  # the summary before the error line
            raise PassingError(Failure(
                f"every job of the sweep failed (job {rows[0].job}: {one_line(rows[0].error)}); "
                f"each job's error is in its train.log, and in: qa-compare {sweep_dir}"))


def planned_jobs(hydra_cfg: DictConfig) -> list[list[str]] | None:
    """Each job's overrides, in job order, as Hydra's basic sweeper will launch them; None for
    another sweeper or a sweep the check cannot expand (e.g. glob() choices)."""
    if hydra_cfg.sweeper.get("_target_") != BASIC_SWEEPER:
        return None
    params = [f"{key}={value}" for key, value in (hydra_cfg.sweeper.get("params") or {}).items()]
    try:
        overrides = OverridesParser.create().parse_overrides(
            params + list(hydra_cfg.overrides.task))
        batches = BasicSweeper.split_arguments(overrides, None)
    except HydraException:
        return None
    return [job for batch in batches for job in batch]


def check_job_numbers(hydra_cfg: DictConfig) -> None:
    """RunDirError when a job directory of the sweep holds a job with other settings than the
    job of that number in this sweep."""
    subdir = OmegaConf.to_container(hydra_cfg.sweep, resolve=False).get("subdir")
    jobs = planned_jobs(hydra_cfg) if subdir == JOB_NUMBER_SUBDIR else None
    sweep_dir = Path(hydra_cfg.sweep.dir)
    for number, overrides in enumerate(jobs or []):
        status = layout.read_json(sweep_dir / str(number) / layout.STATUS)
        if not isinstance(status, dict) or not isinstance(status.get("overrides"), list):
            continue
        differences = job_differences(status["overrides"], overrides, None, {})
        if differences:
            raise RunDirError(
                f"{sweep_dir} already holds job {number} with other settings than this sweep's "
                f"job {number} ({differences}): its job numbers would stand for other "
                "settings, and those jobs would be refused. Run this sweep into another "
                "hydra.sweep.dir; the jobs there are kept.")


def sweep_summary(sweep_dir: Path, rows: list[JobRow]) -> str:
    """`Sweep DIR: N jobs: a finished, b failed; best F1 x (job k: overrides). Compare: ...`
    for the jobs `rows` of `sweep_dir`."""
    counts = Counter(row.status for row in rows)
    parts = ", ".join(f"{n} {status}" for status, n in counts.items())
    scored = [row for row in rows if row.status == layout.FINISHED and row.f1 is not None]
    best = max(scored, key=lambda row: row.f1, default=None)
    best_text = f"; best F1 {best.f1:.2f} (job {best.job}: {best.overrides})" if best else ""
    return (f"Sweep {sweep_dir}: {len(rows)} jobs: {parts}{best_text}. "
            f"Compare them: qa-compare {sweep_dir}")
