"""FiniteGuard: training stops at a non-finite loss, and the weights are checked before a save."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf

from qa_experiments.training.finite_guard import FiniteGuard, NonFiniteError


class State:
    global_step, max_steps = 7, 100


class Control:
    should_save = True


def test_finite_guard_stops_at_a_non_finite_loss_naming_the_last_checked_checkpoint():
    guard = FiniteGuard(resumed_from="run/checkpoints/checkpoint-5")
    guard.on_training_step(1.5, 8, State())
    with pytest.raises(NonFiniteError, match=r"\(loss=nan\) at step 8; the last good checkpoint "
                                             "is run/checkpoints/checkpoint-5"):
        guard.on_training_step(math.nan, 8, State())
    guard.on_save(OmegaConf.create({"output_dir": "out"}), State(), Control())
    with pytest.raises(NonFiniteError, match=r"out/checkpoint-7\."):
        guard.on_training_step(math.inf, 8, State())


def test_finite_guard_checks_the_weights_before_a_save():
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 1))
    guard = FiniteGuard()
    guard.on_step_end(None, State(), Control(), model=model)  # finite: passes
    with torch.no_grad():
        model[1].weight[0, 0] = math.nan
    with pytest.raises(NonFiniteError, match=r"weights went non-finite \(1\.weight\).*none"):
        guard.on_step_end(None, State(), Control(), model=model)
    not_saving = type("Control", (), {"should_save": False})()
    guard.on_step_end(None, State(), not_saving, model=model)  # no save, not the end: no cost
    resumed = FiniteGuard(resumed_from="out/checkpoint-5")
    with pytest.raises(NonFiniteError, match="checkpoint-5 holds non-finite weights"):
        resumed.on_train_begin(None, State(), Control(), model=model)
    assert resumed.last_good is None
