"""What the job and its Trainer callback say to experiment trackers, whichever they are.

A job talks to `Trackers`: the runs it started (`start_trackers`), one per tracker chosen by
`logger=...` (W&B, MLflow, TensorBoard, several at once or none). Each `Tracker` continues its
own run across resume and requeue and keeps its `floor`, the last optimizer step its run held
when this attempt started. A tracker that fails after its start (a server gone away) is
dropped with one warning: the run directory stays the job's record.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from qa_experiments.errors import UserError

log = logging.getLogger(__name__)

# How a run ends, in MLflow's words (W&B records an exit code: 0 for FINISHED, else 1).
FINISHED, FAILED, KILLED = "FINISHED", "FAILED", "KILLED"


class TrackingError(UserError, RuntimeError):
    """A tracker's run could not be started; the message says how to run without it."""


class Tracker(Protocol):
    """One tracker's run of the job."""

    name: str  # how warnings name it: "W&B", "MLflow", "TensorBoard"
    floor: int  # the last optimizer step the run held when this attempt started

    def trainer_callbacks(self) -> list:
        """Extra Trainer callbacks the tracker needs (none but W&B's set-up)."""

    def log(self, row: dict[str, Any], step: int) -> None:
        """Log `row` at optimizer step `step`, unless the run holds that step already."""

    def log_report(self, summary: dict[str, Any], charts: dict[str, Path],
                   table: tuple[list[str], list[list[Any]]]) -> None:
        """The error-analysis report: flat slice scores, charts (name -> PNG) and the
        predictions `table` (columns, rows)."""

    def attach(self, files: dict[str, Path]) -> None:
        """Attach `files` (folder in the run -> a file or directory of the run directory)."""

    def finish(self, status: str, summary: dict[str, Any] | None,
               tags: tuple[str, ...] = (), unset: tuple[str, ...] = ()) -> None:
        """Record the final `summary` (and `tags`, without the summary keys `unset`) and close
        the run with `status` (FINISHED, FAILED or KILLED)."""


def ending(error: BaseException) -> str:
    """The status of a run whose job stops with `error`: KILLED when it was stopped from outside
    (SLURM's preemption handler exits, Ctrl-C), FAILED otherwise."""
    return KILLED if isinstance(error, (SystemExit, KeyboardInterrupt)) else FAILED


class Trackers:
    """The job's tracker runs, each told the same; one that fails is warned about and dropped."""

    def __init__(self, trackers: list[Tracker]) -> None:
        self.active = list(trackers)

    def __bool__(self) -> bool:
        return bool(self.active)

    @property
    def floor(self) -> int:
        """The last step every run holds: rows after it go to each run that lacks them."""
        return min((tracker.floor for tracker in self.active), default=0)

    def trainer_callbacks(self) -> list:
        return [callback for tracker in self.active for callback in tracker.trainer_callbacks()]

    def log(self, row: dict[str, Any], step: int) -> None:
        self._each("logging", lambda tracker: tracker.log(row, step))

    def log_report(self, summary: dict[str, Any], charts: dict[str, Path],
                   table: tuple[list[str], list[list[Any]]]) -> None:
        self._each("sending the report", lambda tracker: tracker.log_report(summary, charts, table))

    def attach(self, files: dict[str, Path]) -> None:
        self._each("attaching files", lambda tracker: tracker.attach(files))

    def finish(self, status: str, summary: dict[str, Any] | None = None,
               tags: tuple[str, ...] = (), unset: tuple[str, ...] = ()) -> None:
        """Close every run; also when the job failed or is being stopped, where a tracker's
        error must never replace the job's own (which decides what happens next: a requeue)."""
        self._each("closing its run", lambda tracker: tracker.finish(status, summary, tags, unset))
        self.active = []

    def _each(self, doing: str, action) -> None:
        for tracker in list(self.active):
            try:
                action(tracker)
            except Exception as error:  # a server gone, a closed service, a refused request
                log.warning("%s failed while %s (%s: %s); this job logs no more to it, and its "
                            "run directory keeps the results.", tracker.name, doing,
                            type(error).__name__, " ".join(str(error).split())[:300])
                self.active.remove(tracker)


def summary_metrics(results: dict[str, Any]) -> dict[str, float]:
    """Final scores and throughput under stable keys (eval/f1, train/samples_per_second, ...),
    so that every tracker's runs compare jobs directly: what results.json holds."""
    keys = {k: f"eval/{k}" for k in results if k.endswith(("exact_match", "f1", "_total"))}
    keys.update({
        "train_samples_per_second": "train/samples_per_second",
        "train_tokens_per_second": "train/tokens_per_second",
        "peak_memory_mb": "system/peak_memory_mb",
        "train_runtime": "train/runtime_seconds",
        "train_loss": "train/final_loss",
        "eval_runtime": "eval/runtime_seconds",
        "preprocess_seconds": "data/preprocess_seconds",
        "train_features": "data/train_features",
        "eval_examples": "data/eval_examples",
    })
    keys.update({k: f"eval/{k}" for k in ("best_exact", "best_exact_thresh", "best_f1_thresh")})
    summary = {name: results[key] for key, name in keys.items() if key in results}
    for section in ("calibration", "no_answer_threshold"):  # their numbers (see scoring.tuning)
        for key, value in (results.get(section) or {}).items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                summary[f"eval/{section}/{key}"] = value
    return summary
