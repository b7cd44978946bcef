"""Device and precision: where a model runs (CUDA when asked and present, else the CPU), in
which precision, and how its batches are padded for that device."""

from __future__ import annotations

from typing import Any

import torch
from transformers import DataCollatorWithPadding, TrainingArguments

from qa_experiments.config.schema import ConfigError
from qa_experiments.model.cpu_features import bf16_units, cpu_flags


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
    precision = resolve_precision(
        hardware.precision, use_cuda,
        bf16_supported=torch.cuda.is_bf16_supported() if use_cuda else bool(
            bf16_units(cpu_flags())))
    ampere = use_cuda and torch.cuda.get_device_capability()[0] >= 8
    return {
        "use_cpu": not use_cuda,
        "bf16": precision == "bf16",
        "fp16": precision == "fp16",
        "tf32": bool(hardware.tf32 and ampere) if use_cuda else None,
    }


def resolve_precision(precision: str, use_cuda: bool, *, bf16_supported: bool) -> str:
    """What `hardware.precision` means on this device: `auto` is bf16 where the device supports
    it well (a CUDA GPU with bf16, a CPU with bf16 units: model/cpu_features.py), else fp16 on
    a GPU and fp32 on the CPU; any other value is itself. fp16 needs CUDA (ConfigError)."""
    if precision == "auto":
        precision = "bf16" if bf16_supported else "fp16" if use_cuda else "fp32"
    if precision == "fp16" and not use_cuda:
        raise ConfigError("hardware.precision=fp16 needs a CUDA GPU; use bf16 or fp32 on CPU.")
    return precision


def precision_of(args: TrainingArguments) -> str:
    """The precision a Trainer with `args` runs in: bf16, fp16 or fp32."""
    return "bf16" if args.bf16 else "fp16" if args.fp16 else "fp32"


def precision_line(args: TrainingArguments) -> str:
    """One log line: the precision a run trains in, on which device, and on the CPU which bf16
    units were found (what `hardware.precision=auto` decided by)."""
    line = f"Precision: {precision_of(args)} on {args.device}"
    if args.use_cpu:
        units = bf16_units(cpu_flags())
        line += (f" (CPU bf16 units: {', '.join(units)})" if units else
                 " (no CPU bf16 units: hardware.precision=auto trains in fp32)")
    return line


def padding_collator(tokenizer, args: TrainingArguments) -> DataCollatorWithPadding:
    """Pads each batch to its longest window: to a multiple of 8 under mixed precision (tensor
    cores), exactly otherwise (on the CPU extra padding is pure waste)."""
    return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8 if args.bf16 or args.fp16
                                   else None)
