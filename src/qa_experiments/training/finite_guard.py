"""Never train on, save or name a model with a NaN or infinite loss or weight.

`FiniteGuard` checks every step's loss (through `QATrainer`'s `on_training_step` hook), and
the weights before every save and at the end of training.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from transformers import TrainerCallback


class NonFiniteError(RuntimeError):
    """The training loss or the weights became NaN or infinite."""


class FiniteGuard(TrainerCallback):
    """Stops training at the first non-finite loss (any step) or weight (checked before each
    save and at the end), so no checkpoint or model of a broken run is written; its error names
    the newest checkpoint whose weights were checked, or the one the run resumed from (whose
    weights are checked when training begins)."""

    def __init__(self, resumed_from: str | None = None):
        self.last_good = resumed_from

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.last_good is not None and non_finite_parameters(model):
            broken, self.last_good = self.last_good, None
            raise NonFiniteError(f"the checkpoint {broken} holds non-finite weights; delete it "
                                 "to resume from an older one.")

    def on_training_step(self, loss: float, batch_size: int, state) -> None:
        if not math.isfinite(loss):
            raise self.error(f"loss went non-finite (loss={loss})", state.global_step + 1)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if control.should_save or state.global_step >= state.max_steps:
            self.check_weights(model, state.global_step)

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        if control.should_save:
            self.check_weights(model, state.global_step)

    def on_save(self, args, state, control, **kwargs):
        self.last_good = str(Path(args.output_dir) / f"checkpoint-{state.global_step}")

    def check_weights(self, model, step: int) -> None:
        bad = non_finite_parameters(model)
        if bad:
            more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
            raise self.error(f"weights went non-finite ({', '.join(bad[:3])}{more})", step)

    def error(self, what: str, step: int) -> NonFiniteError:
        return NonFiniteError(
            f"training {what} at step {step}; the last good checkpoint is "
            f"{self.last_good or 'none (no checkpoint saved yet)'}. Lower optimizer.lr, use fp32 "
            "(hardware.precision=fp32) or check the data."
        )


def non_finite_parameters(model: torch.nn.Module) -> list[str]:
    """Names of the parameters holding a NaN or infinite value (one device sync)."""
    named = list(model.named_parameters())
    with torch.no_grad():
        finite = torch.stack([torch.isfinite(p).all() for _, p in named]).tolist()
    return [name for (name, _), ok in zip(named, finite) if not ok]
