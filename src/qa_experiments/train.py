"""The train entrypoint: `python -m qa_experiments.train [group=choice ...] [key=value ...]`.

Hydra composes conf/config.yaml with the chosen config groups; each run writes its config,
status, results.json, predictions.json and trained model into its own run directory. In a
multirun (`-m`), a failing job is recorded as failed and the sweep goes on; re-running a sweep
into the same directory reuses the jobs that already finished.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from qa_experiments import tracking
from qa_experiments.hub import HubUnavailableError, resolve_local_files_only
from qa_experiments.hydra_errors import run_reporting_errors
from qa_experiments.paths import config_dir, register_resolvers
from qa_experiments.results import write_json
from qa_experiments.schema import ConfigError, register_schema, validate_config
from qa_experiments.squad_data import DataError
from qa_experiments.squad_files import check_readable

log = logging.getLogger("qa_experiments.train")

# Mistakes in what the user asked for: reported in one line, without a traceback.
USER_ERRORS = (ConfigError, DataError, HubUnavailableError, FileNotFoundError)

register_resolvers()
register_schema()


def train(cfg: DictConfig) -> float:
    """Run one job and return its dev F1 (the metric sweepers maximise)."""
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    overrides = list(hydra_cfg.overrides.task)
    previous = finished_results(run_dir, overrides)
    if previous is not None:
        log.info("Job already finished in %s: reusing its results (f1=%.2f)", run_dir,
                 previous["f1"])
        return previous["f1"]
    chief = is_chief()
    try:
        validate_config(cfg)
        check_inputs(cfg)
    except Exception as error:  # recorded, so that a sweep shows the job as failed
        if chief:
            write_status(run_dir, "failed", overrides, error)
        raise

    from qa_experiments.training import run_experiment, summarize  # heavy imports, after checks

    if chief:
        write_status(run_dir, "running", overrides)
    run = tracking.start_run(
        cfg.logger,
        config=OmegaConf.to_container(cfg, resolve=True),
        run_dir=run_dir,
        name=hydra_cfg.job.override_dirname or run_dir.name,
        group=sweep_group(hydra_cfg),
        tags=[cfg.model.name, cfg.data.name],
    ) if chief else None
    try:
        results = run_experiment(cfg, run_dir)
    except BaseException as error:
        if chief:
            write_status(run_dir, "failed", overrides, error)
        tracking.finish_run(run, None, exit_code=1)
        raise
    if chief:
        write_status(run_dir, "finished", overrides)
    tracking.finish_run(run, tracking.summary_metrics(results), exit_code=0)
    log.info("Done: %s. Run directory: %s", summarize(results), run_dir)
    return results["f1"]


def check_inputs(cfg: DictConfig) -> None:
    """Refuse unreadable data files, an unreachable Hub dataset and windows longer than the model
    takes, before a W&B run starts and before any data or weights are loaded (the model's
    config only)."""
    from qa_experiments.modeling import check_max_seq_length

    if cfg.data.dataset_name:
        resolve_local_files_only(cfg.data.dataset_name, "dataset", "dataset")  # Hub or cache
    else:
        for path in (cfg.data.train_file, cfg.data.eval_file):
            check_readable(path)
    check_max_seq_length(cfg.model, cfg.data.max_seq_length)


def finished_results(run_dir: Path, overrides: list[str]) -> dict | None:
    """Results of a job that already finished in `run_dir` with the same overrides."""
    try:
        status = json.loads((run_dir / "status.json").read_text())
        results = json.loads((run_dir / "results.json").read_text())
    except (OSError, ValueError):
        return None
    if status.get("status") != "finished":
        return None
    if _job_identity(status.get("overrides", [])) != _job_identity(overrides):
        raise ConfigError(
            f"{run_dir} already holds a finished run with other overrides "
            f"({' '.join(status.get('overrides', []))}); it is never overwritten. "
            "Choose another hydra.run.dir / hydra.sweep.dir."
        )
    return results


def _job_identity(overrides: list[str]) -> list[str]:
    # `resume=true` continues the same job; it does not make it another one.
    return sorted(o for o in overrides if not o.startswith("resume="))


def write_status(run_dir: Path, status: str, overrides: list[str], error=None) -> None:
    """Record the job's state where `qa-compare` and later re-runs of the sweep find it."""
    write_json(run_dir / "status.json", {
        "status": status,
        "overrides": overrides,
        "error": None if error is None else f"{type(error).__name__}: {error}",
    })


def is_chief() -> bool:
    """True in the process that writes results and logs (rank 0 under torchrun)."""
    return int(os.environ.get("RANK", "0")) == 0


def sweep_group(hydra_cfg) -> str | None:
    """The W&B group of a multirun job: its sweep directory, so a sweep's runs sit together."""
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return None
    return Path(hydra_cfg.sweep.dir).as_posix().removeprefix("multirun/")


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
        multirun = HydraConfig.get().mode == RunMode.MULTIRUN
        log.error("%s%s: %s", "Job failed: " if multirun else "", type(error).__name__, error)
        if multirun:
            return None
        sys.exit(2 if isinstance(error, USER_ERRORS) else 1)


def log_traceback_to_file(error: BaseException) -> None:
    """Write the full traceback to the job's log file only, not to the console."""
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, "Traceback of the failure:",
                            None, (type(error), error, error.__traceback__))
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def cli() -> None:
    """Console entry point (`qa-train`, `python -m qa_experiments.train`): `main` with Hydra's
    own errors (bad override, unknown choice, unwritable run directory) as one line, exit 2."""
    run_reporting_errors("qa-train", main)


if __name__ == "__main__":
    cli()
