"""The distillation loss and the collator that pads the teacher's logits."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf

from qa_experiments.errors import UserError
from qa_experiments.runs import layout
from qa_experiments.training.distillation import (
    MASKED,
    DistillationError,
    distillation_collator,
    load_teacher,
    soft_loss,
)


def test_soft_loss_is_zero_for_the_teachers_own_logits_and_ignores_padding():
    logits = torch.tensor([[1.0, 2.0, 0.5, 9.0]])
    mask = torch.tensor([[1, 1, 1, 0]])
    other_padding = torch.tensor([[1.0, 2.0, 0.5, -3.0]])
    assert soft_loss(logits, other_padding, mask, 2.0).item() == pytest.approx(0.0, abs=1e-6)


def test_soft_loss_is_the_kl_divergence_scaled_by_t_squared():
    student, teacher = torch.tensor([[0.0, 0.0]]), torch.tensor([[math.log(3.0), 0.0]])
    mask = torch.ones(1, 2, dtype=torch.long)
    # T = 1: KL(p || q) with p = (3/4, 1/4) and q = (1/2, 1/2)
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert soft_loss(student, teacher, mask, 1.0).item() == pytest.approx(expected, rel=1e-5)
    halved = soft_loss(student, teacher * 2, mask, 2.0).item()  # same softened distributions
    assert halved == pytest.approx(4 * expected, rel=1e-5)


def test_collator_pads_teacher_logits_to_the_batch_with_no_probability():
    def collate(rows):
        width = max(len(row["input_ids"]) for row in rows)
        return {"input_ids": torch.tensor([r["input_ids"] + [0] * (width - len(r["input_ids"]))
                                           for r in rows])}

    rows = [{"input_ids": [5, 6, 7], "teacher_start_logits": [1.0, 2.0, 3.0],
             "teacher_end_logits": [3.0, 2.0, 1.0]},
            {"input_ids": [5], "teacher_start_logits": [4.0], "teacher_end_logits": [0.5]}]
    batch = distillation_collator(collate)(rows)
    assert batch["teacher_start_logits"].tolist() == [[1.0, 2.0, 3.0], [4.0, MASKED, MASKED]]
    assert batch["teacher_end_logits"][1].tolist() == [0.5, MASKED, MASKED]
    assert distillation_collator(collate)([{"input_ids": [1]}])["input_ids"].tolist() == [[1]]


def test_an_onnx_export_as_teacher_is_refused_before_anything_is_loaded(tmp_path):
    """It was loaded as an answering model, then failed as one (no PyTorch logits)."""
    (tmp_path / layout.EXPORT_SETTINGS).write_text("{}")  # nothing else is read
    cfg = OmegaConf.create({"distill": {"teacher": str(tmp_path)}})
    with pytest.raises(DistillationError, match=r"is an ONNX export \(qa-export\).*a teacher "
                                                 r"must be a PyTorch model") as refused:
        load_teacher(cfg)
    assert isinstance(refused.value, UserError) and str(tmp_path) in str(refused.value)
