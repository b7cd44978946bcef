"""The run-directory contract: the files a run holds, its statuses, and which process writes.

A run directory is `outputs/<date>/<time>/` (a sweep job: `multirun/<date>/<time>/<job>/`).
Every writer and reader of one takes the names from here.

In the order a job writes them:
- `status.json`: first, and at every change: `running`, `finished` (only once every file
  below is complete), `failed` (with the error) or `pruned`, and the job's overrides
- `config.json`, `.hydra/`: the resolved config; Hydra's config, hydra and overrides files
- `train.log`: the job's log, with the traceback of a failure
- `checkpoints/`: the Trainer's checkpoints while training
- `intermediate.json`: dev F1 on the pruning slice at each report (searches)
- `model/`: weights, tokenizer, `qa_settings.json` and `calibration.json`, renamed into place
  whole
- `predictions.json`, `nbest_predictions.json`, `na_prob.json` (v2), `eval_questions.jsonl`
- `results.json`: the metrics
- `report/`: the error-analysis report (one that fails is a warning; `qa-report` redoes it;
  `qa-report --questions FILE` writes `report_<file stem>/`)
- `wandb/`: the W&B run files (`logger=wandb`), one `offline-run-*` per attempt offline
- `wandb_run.json`: the job's W&B run id and last logged step, which a resumed attempt
  continues (one W&B run per job across restarts)
- `mlflow_run.json`: the same for the job's MLflow run (`logger=mlflow`)
- `tensorboard/`: the job's TensorBoard event files (`logger=tensorboard`), one per attempt

What a finished run keeps: everything above except `checkpoints/`. A finished run is never
resumed (the same command reuses its results, another one is refused), so its checkpoints,
three times the size of `model/` with the optimizer state, could serve nothing.

Stored files are read as plain JSON (`read_json`, `read_json_object`), never interpolated: a
settings file is data, not a config.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from qa_experiments.runs.atomic import rewrite_in_place, write_json

STATUS = "status.json"
CONFIG = "config.json"
RESULTS = "results.json"
PREDICTIONS = "predictions.json"
NBEST_PREDICTIONS = "nbest_predictions.json"
NO_ANSWER_PROBABILITIES = "na_prob.json"
QUESTIONS = "eval_questions.jsonl"
INTERMEDIATE = "intermediate.json"
LOG = "train.log"
MODEL_DIR = "model"
# In MODEL_DIR: the window and decoding settings the model was trained with, so that the
# directory alone (copied, or pushed to the Hub) answers as the run did.
MODEL_SETTINGS = "qa_settings.json"
DECODING_SETTINGS = ("version_2_with_negative", "max_seq_length", "doc_stride",
                     "max_question_length", "pad_to_max_length", "n_best_size",
                     "max_answer_length", "null_score_diff_threshold")
# In MODEL_DIR (and an export directory): the confidence calibration and tuned threshold.
CALIBRATION = "calibration.json"
# In an export directory (qa-export): its inputs, data settings and threshold.
EXPORT_SETTINGS = "qa_export.json"
REPORT_DIR = "report"
CHECKPOINTS_DIR = "checkpoints"
HYDRA_DIR = ".hydra"
OVERRIDES = "overrides.yaml"  # in HYDRA_DIR
WANDB_DIR = "wandb"
WANDB_RUN = "wandb_run.json"  # the job's W&B run id and last logged step (tracking.wandb_run)
MLFLOW_RUN = "mlflow_run.json"  # the same for its MLflow run (tracking.mlflow_run)
TENSORBOARD_DIR = "tensorboard"  # its TensorBoard event files (tracking.tensorboard_run)

RUNNING, FINISHED, FAILED, PRUNED = "running", "finished", "failed", "pruned"

# The files of a training run (beside its status.json): no other command may replace them.
RUN_FILES = frozenset({STATUS, CONFIG, RESULTS, PREDICTIONS, NBEST_PREDICTIONS,
                       NO_ANSWER_PROBABILITIES, QUESTIONS, INTERMEDIATE, LOG, WANDB_RUN,
                       MLFLOW_RUN})
# Every name a run owns at its top level: nothing else may write there or below.
RUN_NAMES = RUN_FILES | {MODEL_DIR, REPORT_DIR, CHECKPOINTS_DIR, HYDRA_DIR, WANDB_DIR,
                         TENSORBOARD_DIR}
# What an attempt writes once it has trained or evaluated; status.json says if they are complete.
ATTEMPT_OUTPUTS = (RESULTS, PREDICTIONS, NBEST_PREDICTIONS, NO_ANSWER_PROBABILITIES, QUESTIONS,
                   INTERMEDIATE, MODEL_DIR, REPORT_DIR)
# A sweep's job directory holds at least one of these.
JOB_MARKERS = (HYDRA_DIR, STATUS, RESULTS)


def is_writer() -> bool:
    """True in the one process of a job that writes its run directory and logs to W&B: rank 0
    under torchrun or SLURM (RANK, set before training starts), the only process otherwise."""
    return int(os.environ.get("RANK", "0")) == 0


def read_json(path: Path) -> Any:
    """The JSON in `path`, as plain values; None when it is missing, unreadable, half-written
    or not UTF-8 JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        return None


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`; None when `read_json` finds none or it is not an object."""
    data = read_json(path)
    return data if isinstance(data, dict) else None


def report_dir(run_dir: Path, questions: Path | None = None) -> Path:
    """Where the error-analysis report of a run goes: RUN_DIR/report for its own question
    file, RUN_DIR/report_<file stem> for another one (`qa-report --questions FILE`)."""
    return run_dir / (REPORT_DIR if questions is None else f"{REPORT_DIR}_{questions.stem}")


def write_status(run_dir: Path, status: str, overrides: list[str], error=None) -> None:
    """Record the job's state where `qa-compare` and later re-runs of the sweep find it. A
    `failed` status that cannot be written atomically (a full disk: no room for the temporary
    copy) is written over the old status in place, so a run never stays `running` for it."""
    data = {
        "status": status,
        "overrides": overrides,
        "error": None if error is None else f"{type(error).__name__}: {error}",
    }
    try:
        write_json(run_dir / STATUS, data)
    except OSError:
        if status != FAILED or not rewrite_in_place(run_dir / STATUS, data, shorten="error"):
            raise


def is_run_dir(path: Path) -> bool:
    """Whether `path` holds a run (its status file)."""
    return (path / STATUS).is_file()


def model_directory(path: Path) -> Path:
    """The model of a run directory (its `model/`), else `path` itself (a model or checkpoint
    directory)."""
    return path / MODEL_DIR if (path / MODEL_DIR).is_dir() else path


def enclosing_run(path: Path) -> Path | None:
    """The run directory that is `path` or holds it (RUN/model/x, RUN/checkpoints/...), if any."""
    path = Path(path).expanduser().resolve()  # a symlink into a run is inside that run
    return next((p for p in (path, *path.parents) if is_run_dir(p)), None)


def foreign_entries(run_dir: Path) -> list[str]:
    """What a directory holds that is not a trace of a job of this framework claiming it (its
    `.hydra/`, `train.log`, atomic-write leftovers): the files of a directory that is not a
    run. Empty for a new or empty directory."""
    try:
        names = sorted(p.name for p in run_dir.iterdir())
    except OSError:
        return []
    return [n for n in names if n not in (HYDRA_DIR, LOG)
            and not (n.startswith(".") and n.endswith(".tmp"))]


def find_job_dirs(sweep_dir: Path) -> list[Path]:
    """The job subdirectories of a sweep (those Hydra or the task wrote into), in job order."""
    try:
        children = [d for d in sweep_dir.iterdir() if d.is_dir() and not d.name.startswith(".")]
    except OSError:
        return []
    jobs = [d for d in children if any((d / marker).exists() for marker in JOB_MARKERS)]
    return sorted(jobs, key=_job_order)


def job_id(dir_name: str) -> str:
    """The job number of a job directory (`3` or `3_model=bert,...`), else its whole name."""
    match = re.match(r"(\d+)(?:_|$)", dir_name)
    return match.group(1) if match else dir_name


def _job_order(job_dir: Path) -> tuple[int, int, str]:
    number = job_id(job_dir.name)
    return (0, int(number), job_dir.name) if number.isdigit() else (1, 0, job_dir.name)
