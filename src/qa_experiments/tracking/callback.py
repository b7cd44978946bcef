"""The Trainer's logs into the job's tracker runs, at their optimizer step.

Transformers' own integrations log each row at the tracker's next step, so a resumed attempt
would log the steps between its checkpoint and the interruption a second time; this callback
logs each row at its optimizer step through `Trackers.log`, and each tracker skips the steps
its run already holds. A resumed attempt first logs again the checkpoint's rows after the last
step every run holds (`rows_to_relog`: a killed attempt's rows a tracker never wrote).
"""

from __future__ import annotations

from transformers import TrainerCallback
from transformers.integrations.integration_utils import rewrite_logs

from qa_experiments.tracking.tracker import Trackers
from qa_experiments.tracking.wandb_history import rows_to_relog

# What the Trainer logs once at the end of its train() call: figures of this attempt alone,
# while the runs' summaries get the whole-run ones (tracker.summary_metrics).
ATTEMPT_FIGURES = frozenset({"train_runtime", "train_samples_per_second",
                             "train_steps_per_second", "train_loss", "total_flos"})


class TrackersCallback(TrainerCallback):
    """Each Trainer log row, renamed as Transformers does (train/loss, eval/...), to `trackers`."""

    def __init__(self, trackers: Trackers) -> None:
        self.trackers = trackers

    def on_train_begin(self, args, state, control, **kwargs):
        # Resumed: the checkpoint's rows after the last step the runs hold; the steps after
        # the checkpoint's follow from training.
        for step, logs in rows_to_relog(state.log_history, self.trackers.floor, state.global_step):
            self.log(state, logs, step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.log(state, logs or {}, state.global_step)

    def on_predict(self, args, state, control, metrics, **kwargs):
        self.log(state, metrics, state.global_step)  # the evaluations' runtime and rates

    def log(self, state, metrics: dict, step: int) -> None:
        """Log the Trainer's `metrics` (without this attempt's own figures) at optimizer step
        `step`."""
        metrics = {k: v for k, v in metrics.items() if k not in ATTEMPT_FIGURES}
        if state.is_world_process_zero and metrics:
            self.trackers.log({**rewrite_logs(metrics), "train/global_step": step}, step)
