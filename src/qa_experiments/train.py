"""The train entrypoint: `python -m qa_experiments.train [group=choice ...] [key=value ...]`.

Hydra composes conf/config.yaml with the chosen config groups; each run writes its config,
status, results.json, predictions.json and trained model into its own run directory. In a
multirun (`-m`), a failing job is recorded as failed and the sweep goes on; re-running a sweep
into the same directory reuses the jobs that already finished.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from qa_experiments.cli.errors import storage_problem
from qa_experiments.cli.hydra_errors import resolver_user_error, run_reporting_errors
from qa_experiments.config.paths import config_dir
from qa_experiments.errors import Failure, PassingError, one_line
from qa_experiments.hydra_runtime.resolvers import register_config
from qa_experiments.lifecycle.job import train
from qa_experiments.runs.claim import RunDirError
from qa_experiments.runs.layout import LOG

PROG = "qa-train"
log = logging.getLogger("qa_experiments.train")


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Hydra task function. A failure is summed up in one line (the traceback goes to the run's
    log file): a UserError as it is (exit status 2), anything else as a Failure (exit status
    1), both reported by `cli`. In a multirun the failed job is recorded and the sweep goes on
    with the next one (its value is None, which the Optuna sweeper records as a failed trial;
    NaN would end the study)."""
    try:
        return train(cfg)
    except Exception as error:
        logged = log_traceback_to_file(error)
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            log.error("Job failed: %s: %s", type(error).__name__, error)
            return None
        # past Hydra's job runner, which would print a line of its own
        raise PassingError(resolver_user_error(error) or job_failure(error, logged)) from error


def job_failure(error: Exception, logged: bool) -> Failure:
    """The one line that sums up a failed run: a full or read-only disk said as what to do,
    anything else as the error and where its traceback is."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    where = f"the traceback is in {run_dir / LOG}" if logged else f"{LOG} could not be written"
    problem = storage_problem(error, run_dir)
    if problem:  # not a library's inner error
        return Failure(f"{problem}: the job could not write its files "
                       f"({type(error).__name__}: {one_line(error)}; {where}). Free space or "
                       "choose another hydra.run.dir, then run the command again (with "
                       "resume=true to continue from its last checkpoint).")
    return Failure(f"{type(error).__name__}: {one_line(error)} ({where})")


def log_traceback_to_file(error: BaseException) -> bool:
    """Write the full traceback to the job's log file only, not to the console; never for a
    refused run directory (its log belongs to the run it holds). False when it could not be
    written (a full disk): then nothing about it reaches the console either, whose one line
    says so."""
    if isinstance(error, RunDirError):
        return False
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, "Traceback of the failure:",
                            None, (type(error), error, error.__traceback__))
    written = True

    def not_written(_record: logging.LogRecord) -> None:
        nonlocal written
        written = False

    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handleError = not_written  # not logging's "--- Logging error ---" dump
            try:
                handler.handle(record)
            finally:
                del handler.handleError
    return written


def cli() -> None:
    """Console entry point (`qa-train`, `python -m qa_experiments.train`): `main` with Hydra's
    own errors (bad override, unknown choice, unwritable run directory) as one line, exit 2."""
    register_config()
    run_reporting_errors(PROG, main)


if __name__ == "__main__":
    cli()
