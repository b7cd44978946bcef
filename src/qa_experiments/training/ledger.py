"""Whole-run training figures that survive a resume.

The Trainer times and averages only the steps of its own `train()` call, so after a resume
its runtime, rates and loss describe the resumed part. `RunLedger` keeps the training
seconds, samples and summed loss in every checkpoint's trainer_state.json (an
`ExportableState`) and continues from them, so the totals cover the whole run; time spent
after the checkpoint by the interrupted process (work that was redone) is not counted.
"""

from __future__ import annotations

import logging
import time

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

log = logging.getLogger(__name__)


class RunLedger(TrainerCallback, ExportableState):
    """Training seconds, samples and loss sum of the whole run (see the module docstring)."""

    def __init__(self):
        self.seconds = 0.0
        self.samples = 0
        self.loss_sum = 0.0
        self.resumed_from_step: int | None = None
        self._started: float | None = None
        self._world_size = 1

    def on_train_begin(self, args, state, control, **kwargs):
        name = type(self).__name__
        if state.global_step > 0:
            self.resumed_from_step = state.global_step
            saved = state.stateful_callbacks.get(name)
            if not saved:
                log.warning("The checkpoint holds no %s (an older version saved it): training "
                            "time, rates and loss will cover only the resumed part.", name)
            for key, value in (saved or {}).get("attributes", {}).items():
                setattr(self, key, value)
        state.stateful_callbacks[name] = self.state()  # absent in a checkpoint without ledger
        self._started = time.perf_counter()
        self._world_size = args.world_size

    def on_training_step(self, loss: float, batch_size: int, state) -> None:
        self.loss_sum += loss
        self.samples += batch_size * self._world_size  # every process trains a batch this size

    def on_train_end(self, args, state, control, **kwargs):
        self.seconds = self.elapsed()
        self._started = None

    def elapsed(self) -> float:
        """Training seconds of the whole run up to now."""
        return self.seconds + (time.perf_counter() - self._started if self._started else 0.0)

    def state(self) -> dict:
        return {"args": {}, "attributes": {
            "seconds": self.elapsed(), "samples": self.samples, "loss_sum": self.loss_sum,
        }}
