"""The train entrypoint: `python -m qa_experiments.train [group=choice ...] [key=value ...]`.

Hydra composes conf/config.yaml with the chosen config groups; each run writes its config,
status, results.json, predictions.json and trained model into its own run directory. In a
multirun (`-m`), a failing job is recorded as failed and the sweep goes on; re-running a sweep
into the same directory reuses the jobs that already finished.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from qa_experiments.cli.errors import report_error
from qa_experiments.cli.hydra_config import register_resolvers
from qa_experiments.cli.hydra_errors import run_reporting_errors
from qa_experiments.config.paths import config_dir
from qa_experiments.config.schema import register_schema
from qa_experiments.errors import UserError, one_line
from qa_experiments.lifecycle.job import train
from qa_experiments.runs.claim import RunDirError
from qa_experiments.runs.layout import LOG

PROG = "qa-train"
log = logging.getLogger("qa_experiments.train")

register_resolvers()
register_schema()


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Hydra task function. A failure is summed up in one line (the traceback goes to the run's
    log file) and ends the run with exit status 2 for a user error, 1 otherwise; in a multirun
    the failed job is recorded and the sweep goes on with the next one (its value is None,
    which the Optuna sweeper records as a failed trial; NaN would end the study)."""
    try:
        return train(cfg)
    except Exception as error:
        log_traceback_to_file(error)
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            log.error("Job failed: %s: %s", type(error).__name__, error)
            return None
        if isinstance(error, UserError):
            report_error(PROG, one_line(error))
            sys.exit(2)
        report_error(PROG, f"{type(error).__name__}: {one_line(error)} (the traceback is in "
                           f"{Path(HydraConfig.get().runtime.output_dir) / LOG})")
        sys.exit(1)


def log_traceback_to_file(error: BaseException) -> None:
    """Write the full traceback to the job's log file only, not to the console; never for a
    refused run directory (its log belongs to the run it holds)."""
    if isinstance(error, RunDirError):
        return
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, "Traceback of the failure:",
                            None, (type(error), error, error.__traceback__))
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def cli() -> None:
    """Console entry point (`qa-train`, `python -m qa_experiments.train`): `main` with Hydra's
    own errors (bad override, unknown choice, unwritable run directory) as one line, exit 2."""
    run_reporting_errors(PROG, main)


if __name__ == "__main__":
    cli()
