"""Device and precision: where a model runs (CUDA when asked and present, else the CPU), in
which precision, and how its batches are padded for that device."""

from __future__ import annotations

from typing import Any

import torch
from transformers import DataCollatorWithPadding, TrainingArguments

from qa_experiments.config.schema import ConfigError


def set_tf32(enabled: bool | None) -> None:
    """Make CUDA float32 matmuls follow `enabled` (None: leave as is). TrainingArguments sets
    TF32 through a cached function, so in one process a later `tf32=false` can be ignored."""
    if enabled is not None and torch.cuda.is_available():
        torch.backends.cuda.matmul.fp32_precision = "tf32" if enabled else "ieee"


def device_arguments(hardware) -> dict[str, Any]:
    """Device and precision settings for TrainingArguments from the `hardware` group."""
    cuda = torch.cuda.is_available()
    if hardware.device == "cuda" and not cuda:
        raise ConfigError("hardware.device=cuda but no CUDA GPU is visible; use hardware=auto.")
    use_cuda = cuda and hardware.device != "cpu"
    precision = hardware.precision
    if precision == "auto":
        precision = "fp32" if not use_cuda else "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision == "fp16" and not use_cuda:
        raise ConfigError("hardware.precision=fp16 needs a CUDA GPU; use bf16 or fp32 on CPU.")
    ampere = use_cuda and torch.cuda.get_device_capability()[0] >= 8
    return {
        "use_cpu": not use_cuda,
        "bf16": precision == "bf16",
        "fp16": precision == "fp16",
        "tf32": bool(hardware.tf32 and ampere) if use_cuda else None,
    }


def padding_collator(tokenizer, args: TrainingArguments) -> DataCollatorWithPadding:
    """Pads each batch to its longest window: to a multiple of 8 under mixed precision (tensor
    cores), exactly otherwise (on the CPU extra padding is pure waste)."""
    return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8 if args.bf16 or args.fp16
                                   else None)
