"""The life of one training job, from claiming its run directory to its final status.

`train(cfg)` is what `qa-train` runs for each job: check the config, claim the run directory
(reusing a finished run of the same job), check the inputs before a tracker run starts, train
and evaluate (`training.experiment`), then record `finished`, `failed` or `pruned` in
status.json and in the tracker runs (`logger=`) whatever happens. Only the writing process
(`runs.layout.is_writer`) writes.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, OmegaConf

from qa_experiments.analysis.error_report import tracker_view, write_report
from qa_experiments.config.schema import ConfigError, validate_config
from qa_experiments.data.squad_files import check_readable, file_sha256
from qa_experiments.hub import resolve_local_files_only
from qa_experiments.lifecycle import device_slots, process_group, slurm
from qa_experiments.runs import claim, layout, model_card
from qa_experiments.runs.summary import run_summary
from qa_experiments.scoring.metric_names import F1_METRIC
from qa_experiments.search.trial_protocol import TrialPruned
from qa_experiments.tracking.start import start_trackers
from qa_experiments.tracking.tracker import FINISHED, Trackers, ending, summary_metrics

log = logging.getLogger("qa_experiments.train")


def train(cfg: DictConfig) -> float:
    """Run one job and return its dev F1 (the metric sweepers maximise)."""
    slurm.export_distributed_env()  # before anything asks for the rank
    process_group.destroy_at_exit()
    slurm.limit_cpu_threads()
    continue_requeued_job(cfg)
    resolve_relative_paths(cfg)
    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    overrides = list(hydra_cfg.overrides.task)
    with claim.owned(run_dir):
        previous = claim_run_dir(cfg, run_dir, overrides)
        if previous is not None:
            check_same_data(previous, cfg, run_dir)
            log.info("Job already finished in %s: reusing its results.\n%s", run_dir,
                     run_summary(previous, run_dir))
            return previous["f1"]
        try:
            with device_slots.job_devices(cfg.hardware, hydra_cfg.launcher.get("_target_"),
                                          hydra_cfg.mode == RunMode.MULTIRUN):
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


def resolve_relative_paths(cfg: DictConfig) -> None:
    """Make relative data files (and local model and teacher directories) absolute against the
    directory the command was started in: with hydra.job.chdir=true the job runs in its run
    directory."""
    for key in ("train_file", "eval_file"):
        if cfg.data[key] and not Path(cfg.data[key]).expanduser().is_absolute():
            cfg.data[key] = to_absolute_path(cfg.data[key])
    for key in ("name_or_path", "tokenizer_name_or_path"):
        value = cfg.model[key]
        if value and not Path(value).is_absolute() and Path(to_absolute_path(value)).exists():
            cfg.model[key] = to_absolute_path(value)  # else a Hub name
    teacher = cfg.distill.teacher
    if teacher and not Path(teacher).is_absolute() and Path(to_absolute_path(teacher)).exists():
        cfg.distill.teacher = to_absolute_path(teacher)


def claim_run_dir(cfg: DictConfig, run_dir: Path, overrides: list[str]) -> dict | None:
    """Check `cfg` and whether `run_dir` may be written before anything is written there
    (train.log included); the results of this same job if it already finished there."""
    log_files = claim.hold_log_files()
    try:
        validate(cfg, run_dir, overrides)
        previous = claim.claim(run_dir, overrides,
                                   OmegaConf.to_container(cfg, resolve=True), cfg.resume)
    except BaseException:
        claim.close_log_files(log_files)
        raise
    if previous is None:
        claim.attach_log_files(log_files)
    else:
        claim.close_log_files(log_files)  # a finished run's files never change
    return previous


def check_same_data(previous: dict, cfg: DictConfig, run_dir: Path) -> None:
    """RunDirError when a data file of the finished run in `run_dir` has changed since it was
    trained: its results describe the old data, so they are not reused."""
    recorded = previous.get("data_report") if isinstance(previous, dict) else None
    for split, path in (("train", cfg.data.train_file), ("eval", cfg.data.eval_file)):
        digest = ((recorded or {}).get(split) or {}).get("sha256")
        if path and isinstance(digest, str) and file_sha256(path) != digest:
            raise claim.RunDirError(
                f"{run_dir} holds a finished run of this job, but its {split} data {path} has "
                "changed since (its SHA-256 differs), so its results are not reused. Choose "
                "another hydra.run.dir to train on the new data.")


def run_job(cfg: DictConfig, hydra_cfg, run_dir: Path, overrides: list[str]) -> dict:
    """Train and evaluate in the claimed `run_dir`, recording the job's state in status.json
    (and the tracker runs) whatever happens."""
    chief = layout.is_writer()
    if chief:
        try:
            claim.remove_stale_temp_files(run_dir)
            claim.remove_earlier_outputs(run_dir)
            if not cfg.resume:
                claim.start_over(run_dir)
            claim.save_hydra_files(run_dir, cfg, HydraConfig.instance().cfg)
            layout.write_status(run_dir, layout.RUNNING, overrides)
        except BaseException as error:  # never the earlier attempt's `running` left standing
            layout.write_status(run_dir, layout.FAILED, overrides, error)
            raise
    trackers = Trackers([])
    try:
        check_inputs(cfg)  # before a tracker's run starts
        # Imported here, after the checks: torch and transformers take seconds to import.
        # Transformers prints "[INFO] Running in WANDB offline mode" when imported with that
        # mode: not a line for stdout, which holds nothing before a run's summary.
        with contextlib.redirect_stdout(io.StringIO()):
            from qa_experiments.training.distillation import load_teacher
            from qa_experiments.training.experiment import run_experiment

        teacher = load_teacher(cfg) if cfg.distill.method == "logits" else None

        if chief:
            trackers = start_trackers(
                cfg.logger,
                config=experiment_config(cfg),
                run_dir=run_dir,
                name=hydra_cfg.job.override_dirname or run_dir.name,
                group=sweep_group(hydra_cfg),
                tags=[cfg.model.name, cfg.data.name],
                resume=cfg.resume,
            )
        results = run_experiment(cfg, run_dir, trackers, teacher)
        if chief:
            write_error_report(run_dir, trackers)
    except TrialPruned as pruned:
        if chief:
            layout.write_status(run_dir, layout.PRUNED, overrides)
        trackers.finish(FINISHED, pruned_summary(pruned), tags=(layout.PRUNED,),
                        unset=(F1_METRIC,))  # a pruned job has no full-set F1
        raise
    except BaseException as error:
        if chief:
            layout.write_status(run_dir, layout.FAILED, overrides, error)
        trackers.finish(ending(error))
        raise
    if chief:
        layout.write_status(run_dir, layout.FINISHED, overrides)
        claim.remove_checkpoints(run_dir)
    final = summary_metrics(results)
    # In the last history row, over that step's intermediate eval/f1 on the pruning slice, so
    # that the metric's history (what W&B's Hyperband reads) ends on the full-set score.
    trackers.log(final, results["train_steps"])
    trackers.attach(attachments(run_dir))
    trackers.finish(FINISHED, final)
    return results


def attachments(run_dir: Path) -> dict[str, Path]:
    """What a finished run attaches to its tracker runs (as files, where a tracker keeps
    files): folder in the tracker run -> path in `run_dir`."""
    return {
        "": run_dir / layout.CONFIG,
        "results": run_dir / layout.RESULTS,
        "model": run_dir / layout.MODEL_DIR / model_card.CARD,
        layout.REPORT_DIR: run_dir / layout.REPORT_DIR,
    }


def experiment_config(cfg: DictConfig) -> dict:
    """The config a tracker's run records: the experiment's, without `resume`, which describes
    an attempt (a resumed attempt continues the run with its config unchanged)."""
    config = OmegaConf.to_container(cfg, resolve=True)
    del config["resume"]
    return config


def write_error_report(run_dir: Path, trackers: Trackers) -> None:
    """The run's error-analysis report (report/), also sent to its tracker runs; a report that
    fails is a warning, never a failed run."""
    try:
        report = write_report(run_dir)
        if trackers:
            trackers.log_report(*tracker_view(report))
    except Exception as error:
        log.warning("Error-analysis report not written: %s: %s (try: qa-report %s)",
                    type(error).__name__, error, run_dir)


def pruned_summary(pruned: TrialPruned) -> dict:
    """The tracker summary of a pruned trial: its state and last intermediate score."""
    last = pruned.scores[-1]
    return {layout.PRUNED: True, "pruned_at_step": last["step"],
            "eval/f1_pruning_slice": last["f1"]}


def validate(cfg: DictConfig, run_dir: Path, overrides: list[str]) -> None:
    """`validate_config`; a refused job in a new run directory is recorded as failed there, so
    that a sweep shows it (a directory that already holds a run is left as it is)."""
    try:
        validate_config(cfg)
    except ConfigError as error:
        if (layout.is_writer() and not layout.is_run_dir(run_dir)
                and not layout.foreign_entries(run_dir)):
            layout.write_status(run_dir, layout.FAILED, overrides, error)
        raise


def check_inputs(cfg: DictConfig) -> None:
    """Refuse unreadable data files, an unreachable Hub dataset, windows longer than the model
    takes, a tokenizer without offsets and a LoRA target the model lacks, before a tracker run
    starts and before any data or weights are loaded (the model's config and tokenizer only)."""
    # Imported here, like run_experiment: transformers takes seconds to import.
    from qa_experiments.model.loading import check_max_seq_length, check_window_room
    from qa_experiments.model.lora import check_lora

    if cfg.data.dataset_name:
        resolve_local_files_only(cfg.data.dataset_name, "dataset", "dataset")  # Hub or cache
    else:
        for path in (cfg.data.train_file, cfg.data.eval_file):
            check_readable(path)
    check_max_seq_length(cfg.model, cfg.data.max_seq_length)
    check_window_room(cfg.model, cfg.data)
    check_lora(cfg.model)


def sweep_group(hydra_cfg) -> str | None:
    """The tracker group of a multirun job (W&B's group, MLflow's parent run): its sweep
    directory, so a sweep's runs sit together."""
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return None
    return Path(hydra_cfg.sweep.dir).as_posix().removeprefix("multirun/")
