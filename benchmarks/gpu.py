"""CUDA training throughput, MFU and scores: fp32 with fixed 384 padding (the references) vs
the project's defaults, a grid of tuning variants, and a profile of where a step's time goes.

    python benchmarks/gpu.py --train-file train-full.json.gz --out gpu-results   # all phases
    python benchmarks/gpu.py --train-file F --phases tune                        # the grid only
    python benchmarks/gpu.py --train-file F --device cpu --steps 4 --smoke       # CPU smoke test

Phases: `peak` measures the GPU's bf16 matrix-multiply rate (the MFU denominator besides the
datasheet's); `tune` trains a bert-base-sized model (random init, MiniLM's uncased vocabulary)
for --steps steps under each variant; `final` compares fp32 fixed padding with the defaults
(`hardware=auto`, nothing overridden) for the bert-base-sized model (throughput, and one epoch
of the train file with the defaults) and for MiniLM (one epoch each, scored on the SQuAD v1.1
dev set); `profile` records the PyTorch profiler's tables for steps of the defaults.

Every variant runs in this process through the real experiment function, with the config
composed by Hydra's compose API as `python -m qa_experiments.train` would. Throughput is
measured after --warmup-fraction of the steps (compilation and the first CUDA kernels
excluded; the whole-run figure is reported too). Non-padding tokens/s is samples/s times the
mean window length. MFU counts 6 x non-embedding parameters + 12 x layers x width x mean window
length FLOPs per token (PaLM's formula). Writes gpu.json and gpu.md into --out.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from flops import flops_per_token  # beside this script
from hydra import compose, initialize_config_dir
from transformers import AutoModelForQuestionAnswering, AutoTokenizer, BertConfig, TrainerCallback
from transformers import trainer as hf_trainer

import qa_experiments.train  # noqa: F401 - registers the schema and resolvers
from qa_experiments.config.paths import config_dir, minilm_path
from qa_experiments.config.schema import validate_config
from qa_experiments.data.feature_cache import cached_features
from qa_experiments.data.splits import load_split
from qa_experiments.data.windows import prepare_train_features
from qa_experiments.model.loading import load_tokenizer
from qa_experiments.training.experiment import run_experiment

DATASHEET_BF16_FLOPS = 989e12  # H100/H200 SXM dense bf16, NVIDIA's datasheet
FP32_FIXED = ["hardware.precision=fp32", "hardware.tf32=false", "hardware.fused_optimizer=false",
              "data.pad_to_max_length=true", "data.length_bucket_width=null"]
GPU = ["hardware=gpu"]
TUNE_VARIANTS = {
    "defaults (hardware=auto)": [],
    "gpu preset, batch 32": GPU + ["hardware.train_batch_size=32"],
    "gpu, batch 32, non-blocking copies": GPU + [
        "hardware.train_batch_size=32", "+trainer.accelerator_config.non_blocking=true"],
    "gpu, batch 32, no token count": GPU + [
        "hardware.train_batch_size=32", "trainer.include_num_input_tokens_seen=no"],
    "gpu, batch 32, workers 0": GPU + [
        "hardware.train_batch_size=32", "hardware.dataloader_num_workers=0"],
    "gpu, batch 32, workers 8": GPU + [
        "hardware.train_batch_size=32", "hardware.dataloader_num_workers=8"],
    "gpu, batch 64": GPU + ["hardware.train_batch_size=64"],
    "gpu, batch 128": GPU + ["hardware.train_batch_size=128"],
    "gpu, batch 32, compiled": GPU + [
        "hardware.train_batch_size=32", "hardware.torch_compile=true"],
    "gpu, batch 64, compiled": GPU + [
        "hardware.train_batch_size=64", "hardware.torch_compile=true"],
}


class SteadyTimer(TrainerCallback):
    """Wall time and steps from the end of step `warmup` to the end of training."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.seconds, self.steps = warmup, None, None, 0

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.warmup:
            synchronize()
            self.start, self.first_step = time.perf_counter(), state.global_step

    def on_train_end(self, args, state, control, **kwargs):
        if self.start is not None:
            synchronize()
            self.seconds = time.perf_counter() - self.start
            self.steps = state.global_step - self.first_step


class Profile(TrainerCallback):
    """The PyTorch profiler over `active` steps after `skip` steps; tables kept as text."""

    def __init__(self, skip: int, active: int):
        from torch.profiler import ProfilerActivity, profile, schedule

        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA]
                                               if torch.cuda.is_available() else [])
        self.profiler = profile(activities=activities,
                                schedule=schedule(wait=skip - 1, warmup=1, active=active, repeat=1))
        self.window = (skip, skip + active)
        self.times = {}

    def on_train_begin(self, args, state, control, **kwargs):
        self.profiler.start()

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step in self.window:
            synchronize()
            self.times[state.global_step] = time.perf_counter()
        self.profiler.step()

    def on_train_end(self, args, state, control, **kwargs):
        self.profiler.stop()

    def report(self) -> dict:
        averages = self.profiler.key_averages()
        wall = self.times[self.window[1]] - self.times[self.window[0]]
        # ProfilerStep* rows span whole steps; the other rows' self time is kernel time.
        kernels = sum(e.self_device_time_total for e in averages
                      if not e.key.startswith("ProfilerStep")) / 1e6
        return {
            "steps": self.window[1] - self.window[0],
            "wall_seconds": wall,
            "gpu_busy_seconds": kernels,
            "gpu_busy_fraction": kernels / wall if wall else None,
            "by_gpu_time": averages.table(sort_by="self_device_time_total", row_limit=25),
            "by_cpu_time": averages.table(sort_by="cpu_time_total", row_limit=25),
        }


def synchronize() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def matmul_tflops(size: int = 8192, repeats: int = 20) -> float:
    """Measured dense bf16 matrix-multiply rate on random data (median of `repeats`)."""
    a, b = (torch.randn(size, size, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return 2 * size**3 / statistics.median(times) / 1e12


def bert_base(out: Path, smoke: bool = False) -> Path:
    """A randomly initialised bert-base-sized QA model with MiniLM's uncased tokenizer (2 small
    layers for a smoke test)."""
    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    size = dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=2,
                intermediate_size=128) if smoke else {}
    model = AutoModelForQuestionAnswering.from_config(BertConfig(vocab_size=len(tokenizer),
                                                                 **size))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def compose_run(overrides: list[str]):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    validate_config(cfg)
    return cfg


def mean_window_length(common: list[str]) -> float:
    """Mean non-padding length of the train file's windows (from the feature cache)."""
    cfg = compose_run(common)
    examples, _ = load_split(cfg.data, "train")
    features = cached_features("train", examples, load_tokenizer(cfg.model), cfg.data,
                               prepare_train_features)
    return float(np.mean(features["length"]))


def run_variant(name: str, overrides: list[str], out: Path, warmup_fraction: float,
                extra_callback: TrainerCallback | None = None) -> dict:
    """Train and evaluate one variant in this process; its results plus steady-state timing."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    torch._dynamo.reset()
    cfg = compose_run(overrides)
    steps = cfg.trainer.max_steps if cfg.trainer.max_steps > 0 else None
    timer = SteadyTimer(max(1, int((steps or 1000) * warmup_fraction)))
    callbacks = [timer] + ([extra_callback] if extra_callback else [])
    hf_trainer.DEFAULT_CALLBACKS.extend(callbacks)
    try:
        results = run_experiment(cfg, out / name.replace(" ", "_").replace(",", ""))
    finally:
        for callback in callbacks:
            hf_trainer.DEFAULT_CALLBACKS.remove(callback)
    batch = cfg.hardware.train_batch_size * cfg.hardware.gradient_accumulation_steps
    results["steady_samples_per_second"] = (
        timer.steps * batch / timer.seconds if timer.seconds else None)
    results["batch_size"] = batch
    results["overrides"] = overrides
    return results


def describe(name: str, r: dict, window: float, flops: float, peak: float | None) -> dict:
    """The figures reported for a variant."""
    steady = r["steady_samples_per_second"] or r["train_samples_per_second"]
    tokens = steady * window
    row = {
        "variant": name,
        "samples_per_second": round(steady, 1),
        "whole_run_samples_per_second": round(r["train_samples_per_second"], 1),
        "tokens_per_second": round(tokens),
        "mfu_datasheet": round(flops * tokens / DATASHEET_BF16_FLOPS, 4),
        "peak_memory_mb": round(r["peak_memory_mb"]),
        "train_seconds": round(r["train_runtime"], 1),
        "batch_size": r["batch_size"],
        "overrides": r["overrides"],
    }
    if peak:
        row["mfu_measured"] = round(flops * tokens / (peak * 1e12), 4)
    return row


def markdown(rows: list[dict], keys: list[str]) -> str:
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row.get(k, "")) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


class Report:
    """Accumulates figures; rewrites gpu.json and gpu.md after every variant."""

    def __init__(self, out: Path):
        self.out, self.data = out, {"tune": [], "final": []}
        out.mkdir(parents=True, exist_ok=True)

    def add(self, section: str, row) -> None:
        if isinstance(self.data.get(section), list):
            self.data[section].append(row)
        else:
            self.data[section] = row
        (self.out / "gpu.json").write_text(json.dumps(self.data, indent=1))
        keys = ["variant", "samples_per_second", "whole_run_samples_per_second",
                "tokens_per_second", "mfu_measured", "mfu_datasheet", "peak_memory_mb",
                "train_seconds", "exact_match", "f1"]
        text = [f"{k}: {v}" for k, v in self.data.items() if not isinstance(v, (list, dict))]
        for section_name in ("tune", "final"):
            if self.data[section_name]:
                text += ["", f"## {section_name}", markdown(self.data[section_name], keys)]
        (self.out / "gpu.md").write_text("\n".join(text) + "\n")
        print(f"[{section}] {json.dumps(row) if not isinstance(row, dict) else row}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-file", required=True)
    parser.add_argument("--out", default="gpu-results")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--phases", nargs="+", default=["peak", "tune", "final", "profile"])
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps per tune run")
    parser.add_argument("--warmup-fraction", type=float, default=0.3)
    parser.add_argument("--variants", nargs="*", help="tune only these variants")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny limits everywhere: checks the script, measures nothing")
    args = parser.parse_args()
    out = Path(args.out)
    report = Report(out)
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("No CUDA GPU visible; use --device cpu for a smoke test.")
    if args.device == "cuda":
        report.add("gpu", torch.cuda.get_device_name(0))
    peak = None
    if "peak" in args.phases and args.device == "cuda":
        peak = matmul_tflops()
        report.add("measured_bf16_tflops", round(peak, 1))

    limits = ["data.max_train_samples=200", "data.max_eval_samples=20"] if args.smoke else []
    device = ["hardware=cpu"] if args.device == "cpu" else []
    common = ["logger=none", "data=local", f"data.train_file={Path(args.train_file).resolve()}",
              "data.eval_file=${bundled_data:dev-v1.1.json.gz}", "trainer.save_strategy=no",
              "trainer.disable_tqdm=true", "trainer.logging_steps=50", *limits]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = {"bert-base": str(bert_base(tmp / "bert-base", args.smoke)),
                  "MiniLM": minilm_path()}
        window = mean_window_length(common)
        report.add("mean_window_tokens", round(window, 1))
        flops = {name: flops_per_token(path, window) for name, path in models.items()}
        bert = common + [f"model.name_or_path={models['bert-base']}"]
        quick = ["data.max_eval_samples=200"]

        def measure(section, name, model, overrides, callback=None):
            variant_overrides = ([o for o in overrides if not o.startswith("hardware=")]
                                 + device if device else overrides)
            r = run_variant(name, variant_overrides, tmp, args.warmup_fraction, callback)
            row = describe(name, r, window, flops[model], peak)
            row.update({k: round(r[k], 2) for k in ("exact_match", "f1")},
                       eval_examples=r["eval_examples"], eval_seconds=round(r["eval_runtime"], 1))
            report.add(section, row)
            return row

        steps = [f"trainer.max_steps={args.steps}"]
        if "profile" in args.phases:
            profile = Profile(skip=20, active=20)
            measure("final", "bert-base, defaults, profiled", "bert-base",
                    bert + quick + ["trainer.max_steps=45"], profile)
            summary = profile.report()
            for key in ("by_gpu_time", "by_cpu_time"):
                (out / f"profile_{key}.txt").write_text(summary.pop(key))
            report.add("profile", summary)
        if "final" in args.phases:
            base = measure("final", "bert-base, fp32 fixed 384", "bert-base",
                           bert + quick + steps + FP32_FIXED)
            ours = measure("final", "bert-base, defaults, one epoch", "bert-base",
                           bert + quick + ["trainer.num_train_epochs=1"])
            report.add("bert_base_speedup", round(
                ours["samples_per_second"] / base["samples_per_second"], 2))
            minilm = common + ["model=minilm", "trainer.num_train_epochs=1"]
            fixed = measure("final", "MiniLM, fp32 fixed 384, one epoch", "MiniLM",
                            minilm + FP32_FIXED)
            tuned = measure("final", "MiniLM, defaults, one epoch", "MiniLM", minilm)
            report.add("minilm_f1_difference", round(tuned["f1"] - fixed["f1"], 2))
        if "tune" in args.phases:
            for name, overrides in TUNE_VARIANTS.items():
                if not args.variants or name in args.variants:
                    measure("tune", name, "bert-base", bert + quick + steps + overrides)


if __name__ == "__main__":
    main()
