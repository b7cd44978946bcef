"""Transformers' W&B integration set up on the job's W&B run, without its logging.

WandbCallback records the Trainer's arguments and the model's config in the run's config, sets
`train/global_step` as the x-axis and watches the model (WANDB_WATCH); the rows themselves go
through `callback.TrackersCallback`, at their optimizer step.
"""

from __future__ import annotations

from transformers.integrations import WandbCallback


class WandbSetup(WandbCallback):
    """WandbCallback that sets up the run it finds (wandb.run) and logs no rows."""

    def on_log(self, args, state, control, model=None, logs=None, **kwargs):
        if not self._initialized:
            self.setup(args, state, model)

    def on_predict(self, args, state, control, metrics, **kwargs):
        if not self._initialized:
            self.setup(args, state, kwargs.get("model"))
