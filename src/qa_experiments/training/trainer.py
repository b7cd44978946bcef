"""`QATrainer`: the Hugging Face Trainer with the two things extractive-QA training adds.

- Each training step's loss and batch size reach callbacks that have an `on_training_step`
  method (the Trainer's own callbacks see the loss only at logging steps); `FiniteGuard` and
  `RunLedger` use it.
- Training windows are batched by `BucketedLengthSampler` when `length_bucket_width` is set.
- The task head (the model's children besides its backbone: `qa_outputs`) can learn at a
  multiple of the backbone's learning rate (`optimizer.head_lr_multiplier`).
"""

from __future__ import annotations

from transformers import Trainer

from qa_experiments.training.length_sampler import BucketedLengthSampler


class QATrainer(Trainer):
    """Trainer with per-step loss callbacks and length-bucketed training batches."""

    def __init__(self, *args, length_bucket_width: int | None = None,
                 head_lr_multiplier: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.length_bucket_width = length_bucket_width
        self.head_lr_multiplier = head_lr_multiplier
        # Read now: the Trainer drops columns the model does not take before sampling.
        columns = getattr(self.train_dataset, "column_names", [])
        self.train_lengths = self.train_dataset["length"] if "length" in columns else None

    def training_step(self, model, inputs, num_items_in_batch=None):
        loss = super().training_step(model, inputs, num_items_in_batch)
        value, batch_size = loss.detach().float().item(), len(inputs["input_ids"])
        for callback in self.callback_handler.callbacks:
            if hasattr(callback, "on_training_step"):
                callback.on_training_step(value, batch_size, self.state)
        return loss

    def create_optimizer(self, model=None):
        optimizer = super().create_optimizer(model)
        if self.head_lr_multiplier != 1:
            scale_head_lr(optimizer, head_parameters(self.model), self.head_lr_multiplier)
        return optimizer

    def _get_train_sampler(self, train_dataset=None):
        if not self.length_bucket_width or self.train_lengths is None:
            return super()._get_train_sampler(train_dataset)
        batch = self.args.per_device_train_batch_size * self.args.gradient_accumulation_steps
        return BucketedLengthSampler(
            self.train_lengths, batch, self.length_bucket_width, self.args.seed
        )


def head_parameters(model) -> set[int]:
    """The ids of the task head's parameters: those of the model's children other than its
    backbone (`qa_outputs` for BERT-like models)."""
    return {id(p) for name, child in model.named_children()
            if name != model.base_model_prefix for p in child.parameters()}


def scale_head_lr(optimizer, head: set[int], multiplier: float) -> None:
    """Move the `head` parameters of each parameter group into a group of their own whose
    learning rate is `multiplier` times the group's (before any step: no state to move)."""
    for group in list(optimizer.param_groups):
        params = [p for p in group["params"] if id(p) in head]
        if params and len(params) < len(group["params"]):
            group["params"] = [p for p in group["params"] if id(p) not in head]
            optimizer.add_param_group({**{k: v for k, v in group.items() if k != "params"},
                                       "params": params, "lr": group["lr"] * multiplier})
        elif params:
            group["lr"] *= multiplier
