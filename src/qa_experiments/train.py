"""The train entrypoint: `python -m qa_experiments.train [group=choice ...] [key=value ...]`.

Hydra composes conf/config.yaml with the chosen config groups; each run writes its config,
status, results.json, predictions.json and trained model into its own run directory. In a
multirun (`-m`), a failing job is recorded as failed and the sweep goes on; re-running a sweep
into the same directory reuses the jobs that already finished.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from qa_experiments import run_claim, slurm, tracking
from qa_experiments.hub import HubUnavailableError, resolve_local_files_only
from qa_experiments.hydra_errors import run_reporting_errors
from qa_experiments.paths import config_dir, register_resolvers
from qa_experiments.pruning import TrialPruned
from qa_experiments.results import write_json
from qa_experiments.schema import ConfigError, register_schema, validate_config
from qa_experiments.squad_data import DataError
from qa_experiments.squad_files import check_readable
from qa_experiments.summary import run_summary
from qa_experiments.tracking import F1_METRIC, TrackingError

log = logging.getLogger("qa_experiments.train")

# Mistakes in what the user asked for: reported in one line, without a traceback.
USER_ERRORS = (ConfigError, DataError, HubUnavailableError, FileNotFoundError, TrackingError)

register_resolvers()
register_schema()


def train(cfg: DictConfig) -> float:
    """Run one job and return its dev F1 (the metric sweepers maximise)."""
    slurm.export_distributed_env()  # before anything asks for the rank
    slurm.limit_cpu_threads()
    continue_requeued_job(cfg)
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    overrides = list(hydra_cfg.overrides.task)
    previous = claim_run_dir(cfg, run_dir, overrides)
    if previous is not None:
        log.info("Job already finished in %s: reusing its results.\n%s", run_dir,
                 run_summary(previous, run_dir))
        return previous["f1"]
    try:
        results = run_job(cfg, hydra_cfg, run_dir, overrides)
    except TrialPruned as pruned:
        log.info("Optuna trial %s", pruned)
        return pruned.scores[-1]["f1"]
    log.info("%s", run_summary(results, run_dir))
    return results["f1"]


def continue_requeued_job(cfg: DictConfig) -> None:
    """A job that SLURM requeued (preempted, or past its time limit) continues from its newest
    checkpoint: without resume=true its run directory would be started over."""
    if slurm.requeued() and not cfg.resume:
        log.info("SLURM requeued this job: resuming it (resume=true).")
        cfg.resume = True


def claim_run_dir(cfg: DictConfig, run_dir: Path, overrides: list[str]) -> dict | None:
    """Check `cfg` and whether `run_dir` may be written before anything is written there
    (train.log included); the results of this same job if it already finished there."""
    log_files = run_claim.hold_log_files()
    try:
        validate(cfg, run_dir, overrides)
        previous = run_claim.claim(run_dir, overrides,
                                   OmegaConf.to_container(cfg, resolve=True), cfg.resume)
    except BaseException:
        run_claim.close_log_files(log_files)
        raise
    if previous is None:
        run_claim.attach_log_files(log_files)
    else:
        run_claim.close_log_files(log_files)  # a finished run's files never change
    return previous


def run_job(cfg: DictConfig, hydra_cfg, run_dir: Path, overrides: list[str]) -> dict:
    """Train and evaluate in the claimed `run_dir`, recording the job's state in status.json
    (and a W&B run) whatever happens."""
    chief = is_chief()
    if chief:
        run_claim.remove_stale_temp_files(run_dir)
        run_claim.remove_earlier_outputs(run_dir)
        if not cfg.resume:
            run_claim.start_over(run_dir)
        run_claim.save_hydra_files(run_dir, cfg, HydraConfig.instance().cfg)
        write_status(run_dir, "running", overrides)
    run = None
    try:
        check_inputs(cfg)  # before a W&B run starts
        from qa_experiments.training import run_experiment  # heavy imports, after the checks

        if chief:
            run = tracking.start_run(
                cfg.logger,
                config=OmegaConf.to_container(cfg, resolve=True),
                run_dir=run_dir,
                name=hydra_cfg.job.override_dirname or run_dir.name,
                group=sweep_group(hydra_cfg),
                tags=[cfg.model.name, cfg.data.name],
            )
        results = run_experiment(cfg, run_dir, run)
        if chief:
            write_error_report(run_dir, run)
    except TrialPruned as pruned:
        if chief:
            write_status(run_dir, "pruned", overrides)
        tracking.finish_run(run, pruned_summary(pruned), exit_code=0, tags=("pruned",),
                            unset=(F1_METRIC,))  # a pruned job has no full-set F1
        raise
    except BaseException as error:
        if chief:
            write_status(run_dir, "failed", overrides, error)
        tracking.finish_run(run, None, exit_code=1)
        raise
    if chief:
        write_status(run_dir, "finished", overrides)
    final = tracking.summary_metrics(results)
    tracking.log_final(run, final)
    tracking.finish_run(run, final, exit_code=0)
    return results


def write_error_report(run_dir: Path, run) -> None:
    """The run's error-analysis report (report/), also sent to its W&B run; a report that
    fails is a warning, never a failed run."""
    try:
        from qa_experiments.analysis.report import write_report

        tracking.log_report(run, write_report(run_dir))
    except Exception as error:
        log.warning("Error-analysis report not written: %s: %s (try: qa-report %s)",
                    type(error).__name__, error, run_dir)


def pruned_summary(pruned: TrialPruned) -> dict:
    """The W&B summary of a pruned trial: its state and last intermediate score."""
    last = pruned.scores[-1]
    return {"pruned": True, "pruned_at_step": last["step"], "eval/f1_pruning_slice": last["f1"]}


def validate(cfg: DictConfig, run_dir: Path, overrides: list[str]) -> None:
    """`validate_config`; a refused job in a new run directory is recorded as failed there, so
    that a sweep shows it (a directory that already holds a run is left as it is)."""
    try:
        validate_config(cfg)
    except ConfigError as error:
        if is_chief() and not (run_dir / "status.json").exists():
            write_status(run_dir, "failed", overrides, error)
        raise


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
