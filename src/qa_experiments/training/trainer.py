"""`QATrainer`: the Hugging Face Trainer with the two things extractive-QA training adds.

- Each training step's loss and batch size reach callbacks that have an `on_training_step`
  method (the Trainer's own callbacks see the loss only at logging steps); `FiniteGuard` and
  `RunLedger` use it.
- Training windows are batched by `BucketedLengthSampler` when `length_bucket_width` is set.
"""

from __future__ import annotations

from transformers import Trainer

from qa_experiments.training.length_sampler import BucketedLengthSampler


class QATrainer(Trainer):
    """Trainer with per-step loss callbacks and length-bucketed training batches."""

    def __init__(self, *args, length_bucket_width: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.length_bucket_width = length_bucket_width
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

    def _get_train_sampler(self, train_dataset=None):
        if not self.length_bucket_width or self.train_lengths is None:
            return super()._get_train_sampler(train_dataset)
        batch = self.args.per_device_train_batch_size * self.args.gradient_accumulation_steps
        return BucketedLengthSampler(
            self.train_lengths, batch, self.length_bucket_width, self.args.seed
        )
