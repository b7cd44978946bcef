"""The Trainer's logs into the job's W&B run, at their optimizer step.

Transformers' WandbCallback logs each row at W&B's next step, so a resumed attempt would log
the steps between its checkpoint and the interruption a second time; this subclass logs each
row at its optimizer step through `JobRun.log`, which skips the steps the run already holds.
A resumed attempt first logs again the checkpoint's rows the run lacks (`rows_to_relog`).
"""

from __future__ import annotations

from transformers.integrations import WandbCallback
from transformers.integrations.integration_utils import rewrite_logs

from qa_experiments.tracking.wandb_history import rows_to_relog
from qa_experiments.tracking.wandb_run import JobRun

# What the Trainer logs once at the end of its train() call: figures of this attempt alone,
# while the run's summary gets the whole-run ones (wandb_run.summary_metrics).
ATTEMPT_FIGURES = frozenset({"train_runtime", "train_samples_per_second",
                             "train_steps_per_second", "train_loss", "total_flos"})


class JobRunCallback(WandbCallback):
    """Transformers' W&B integration (config, x-axis, model watching) logging through `job_run`."""

    def __init__(self, job_run: JobRun) -> None:
        super().__init__()
        self.job_run = job_run

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        super().on_train_begin(args, state, control, model=model, **kwargs)
        # Resumed: the checkpoint's rows after the last step the run holds (a killed attempt's
        # unwritten rows); the steps after the checkpoint's follow from training.
        for step, logs in rows_to_relog(state.log_history, self.job_run.floor, state.global_step):
            self.log(state, logs, step)

    def on_log(self, args, state, control, model=None, logs=None, **kwargs):
        if not self._initialized:
            self.setup(args, state, model)
        self.log(state, logs or {}, state.global_step)

    def on_predict(self, args, state, control, metrics, **kwargs):
        if not self._initialized:
            self.setup(args, state, kwargs.get("model"))
        self.log(state, metrics, state.global_step)  # the evaluations' runtime and rates

    def log(self, state, metrics: dict, step: int) -> None:
        """Log the Trainer's `metrics` (renamed as Transformers does, without this attempt's
        own figures) at optimizer step `step`."""
        metrics = {k: v for k, v in metrics.items() if k not in ATTEMPT_FIGURES}
        if state.is_world_process_zero and metrics:
            self.job_run.log({**rewrite_logs(metrics), "train/global_step": step}, step)
