"""Start the job's tracker runs: those `logger=...` chose, in the order that fails fastest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qa_experiments.tracking import mlflow_run, tensorboard_run, wandb_run
from qa_experiments.tracking.tracker import KILLED, Trackers

# logger.<key> -> its start; MLflow's server is asked first: one that is down stops the job
# before a W&B run is opened.
STARTS = {"mlflow": mlflow_run.start_run, "tensorboard": tensorboard_run.start_run,
          "wandb": wandb_run.start_run}


def start_trackers(logger_cfg, *, config: dict[str, Any], run_dir: Path, name: str,
                   group: str | None, tags: list[str], resume: bool = False) -> Trackers:
    """A run in each tracker chosen (`logger_cfg.<key>` set), continued with `resume`; when one
    cannot start, those already started are closed (KILLED) and its TrackingError raised."""
    started = Trackers([])
    try:
        for key, start in STARTS.items():
            if logger_cfg.get(key) is not None:
                started.active.append(start(logger_cfg[key], config=config, run_dir=run_dir,
                                            name=name, group=group, tags=tags, resume=resume))
    except BaseException:
        started.finish(KILLED)
        raise
    return started
