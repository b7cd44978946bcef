"""FLOP counts and matrix-multiply rates shared by the training benchmarks (gpu.py,
train_throughput.py): what a training token costs, and the rate a plain matrix product reaches
on this machine, the denominator of a model-FLOPs utilisation."""

from __future__ import annotations

import functools
import statistics
import time

import torch
from transformers import AutoModelForQuestionAnswering


def flops_per_token(model_dir: str, window: float) -> float:
    """PaLM's training FLOPs per token: 6 N (non-embedding) + 12 L d T."""
    n, layers, width = model_size(model_dir)
    return 6 * n + 12 * layers * width * window


@functools.cache
def model_size(model_dir: str) -> tuple[int, int, int]:
    """Non-embedding parameters, layers and width of a QA model (loaded once per directory)."""
    model = AutoModelForQuestionAnswering.from_pretrained(model_dir)
    n = sum(p.numel() for name, p in model.named_parameters() if ".embeddings." not in name)
    return n, model.config.num_hidden_layers, model.config.hidden_size


def cpu_matmul_flops(dtype: torch.dtype, size: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of a `size`^3 matrix product of random `dtype` data on the CPU, with PyTorch's
    threads as they are (median of `repeats`, after 2 warm-up products)."""
    a, b = (torch.randn(size, size, dtype=dtype) for _ in range(2))
    for _ in range(2):
        a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times)
