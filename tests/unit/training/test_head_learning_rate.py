"""optimizer.head_lr_multiplier: the new QA head learns at a multiple of the backbone's rate,
through the whole learning-rate schedule, and nothing changes at 1."""

from __future__ import annotations

import pytest
from datasets import Dataset
from transformers import BertConfig, BertForQuestionAnswering, TrainingArguments

from qa_experiments.training.trainer import QATrainer

LR = 1e-4


def trainer_with(multiplier: float, tmp_path) -> QATrainer:
    model = BertForQuestionAnswering(BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32))
    args = TrainingArguments(output_dir=str(tmp_path), learning_rate=LR, weight_decay=0.01,
                             warmup_steps=2, use_cpu=True, report_to="none")
    data = Dataset.from_dict({"input_ids": [[1, 2]], "length": [2]})
    return QATrainer(model=model, args=args, train_dataset=data, head_lr_multiplier=multiplier)


def rates(trainer: QATrainer) -> tuple[set[float], set[float]]:
    """The learning rates of the groups holding head parameters, and of the others."""
    head = {id(p) for p in trainer.model.qa_outputs.parameters()}
    groups = trainer.optimizer.param_groups
    assert sum(len(g["params"]) for g in groups) == len(list(trainer.model.parameters()))
    return ({g["lr"] for g in groups if any(id(p) in head for p in g["params"])},
            {g["lr"] for g in groups if not any(id(p) in head for p in g["params"])})


@pytest.mark.parametrize("multiplier", [10.0, 0.5])
def test_the_head_learns_at_a_multiple_through_the_schedule(tmp_path, multiplier):
    trainer = trainer_with(multiplier, tmp_path)
    trainer.create_optimizer_and_scheduler(num_training_steps=10)
    groups = trainer.optimizer.param_groups
    head = {id(p) for p in trainer.model.qa_outputs.parameters()}
    assert all(len({id(p) in head for p in g["params"]}) == 1 for g in groups)  # none mixes
    for _ in range(5):  # past the warmup, into the decay
        trainer.optimizer.step()
        trainer.lr_scheduler.step()
        head, backbone = rates(trainer)
        assert len(head) == 1 and len(backbone) == 1
        assert head.pop() == pytest.approx(multiplier * backbone.pop())
    assert {g["weight_decay"] for g in groups} == {0.0, 0.01}  # decay groups kept


def test_a_multiplier_of_1_leaves_the_trainers_groups(tmp_path):
    trainer = trainer_with(1.0, tmp_path)
    trainer.create_optimizer()
    assert len(trainer.optimizer.param_groups) == 2
    assert {g["lr"] for g in trainer.optimizer.param_groups} == {LR}
