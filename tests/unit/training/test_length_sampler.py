"""The bucketed sampler: a permutation, batches of similar length, many paragraphs a batch."""

from __future__ import annotations

import torch

from qa_experiments.training.length_sampler import BucketedLengthSampler


def test_bucketed_batches_are_short_padded_and_mixed():
    generator = torch.Generator().manual_seed(0)
    # 400 "paragraphs" of 6 windows each; all windows of a paragraph share a length.
    paragraph_lengths = torch.randint(60, 384, (400,), generator=generator)
    lengths = paragraph_lengths.repeat_interleave(6).tolist()
    paragraph = torch.arange(400).repeat_interleave(6).tolist()
    sampler = BucketedLengthSampler(lengths, batch_size=16, bucket_width=32, seed=1)

    order = list(sampler)
    assert sorted(order) == list(range(len(lengths)))
    batches = [order[i : i + 16] for i in range(0, len(order), 16)]
    padded = sum(16 * max(lengths[i] for i in b) for b in batches)
    random_padded = sum(
        16 * max(lengths[i] for i in b)
        for b in torch.randperm(len(lengths), generator=generator).split(16)
        for b in [b.tolist()]
    )
    assert padded < 0.75 * random_padded
    mixed = [len({paragraph[i] for i in b}) for b in batches[:-1]]
    assert sum(mixed) / len(mixed) >= 5  # not one paragraph per batch



def test_each_epoch_has_a_new_order_and_seeds_reproduce():
    lengths = list(range(100, 300))
    first, second = BucketedLengthSampler(lengths, 8, 32, seed=3), BucketedLengthSampler(
        lengths, 8, 32, seed=3)
    epoch_one = list(first)
    assert epoch_one == list(second)
    assert list(first) != epoch_one
