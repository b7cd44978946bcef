"""Length-bucketed batches: little padding, and every batch still mixes many paragraphs.

Transformers' `group_by_length` sorts each megabatch by exact length. SQuAD windows of one
paragraph share their length, so its batches hold questions about a single paragraph, in
long-to-short order. Measured here (MiniLM, one epoch on 1,000 questions, lr 1e-4, 500 dev
questions): random order F1 13.9 in 388 s of training; group_by_length F1 4.4 (that run with
bf16 autocast); length buckets (an earlier variant of this sampler) F1 15.9 in 200 s.
Drawing each batch at random from one coarse length bucket keeps most of the padding savings
without that loss of diversity.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class BucketedLengthSampler(Sampler[int]):
    """Each batch: windows drawn at random from one length bucket; batches in random order."""

    def __init__(self, lengths: Sequence[int], batch_size: int, bucket_width: int, seed: int):
        self.lengths = torch.as_tensor(lengths)
        self.batch_size = batch_size
        self.bucket_width = bucket_width
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.lengths)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1  # a fresh order each epoch even if nobody calls set_epoch
        order = torch.randperm(len(self.lengths), generator=generator)
        buckets = self.lengths[order] // self.bucket_width
        # A stable sort keeps the random order inside each bucket.
        batches = order[torch.sort(buckets, stable=True).indices].split(self.batch_size)
        for b in torch.randperm(len(batches), generator=generator).tolist():
            yield from batches[b].tolist()
