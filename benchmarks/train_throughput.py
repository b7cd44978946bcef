"""CPU training throughput: fixed 384 padding in fp32 (the references) vs the project's defaults,
and how far a training step is from the CPU's matrix-multiply peak.

Same model (MiniLM), data (the bundled genuine v1.1 train subset) and hyperparameters
(`experiment=reference`), measured one after the other in this run. Prints train samples/s,
non-padding tokens/s, peak memory, precision and dev F1 of each, then the headline ratio. On a
CPU with bf16 units the defaults train in bf16 autocast, and a third variant, the defaults in
fp32, shows what bf16 alone brings. Last, the achieved FLOP/s of training (PaLM's count per
non-padding token, benchmarks/flops.py, times the tokens/s) against the rate of a plain
2048^3 matrix product in fp32 and in bf16, both measured in this run after the training.

    python benchmarks/train_throughput.py                      # the full reference settings
    python benchmarks/train_throughput.py --max-train-samples 600 --epochs 1 --max-eval-samples 500
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from flops import cpu_matmul_flops, flops_per_token  # beside this script

from qa_experiments.config.paths import minilm_path
from qa_experiments.model.cpu_features import bf16_units, cpu_flags

VARIANTS = {
    "fixed 384 padding, random order, fp32": ["data.pad_to_max_length=true",
                                              "data.length_bucket_width=null",
                                              "hardware.precision=fp32"],
    "project defaults": [],
}
DEFAULTS_FP32 = {"project defaults in fp32": ["hardware.precision=fp32"]}


def run(name: str, overrides: list[str], common: list[str], out: Path) -> dict:
    run_dir = out / name.replace(" ", "_").replace(",", "")
    subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", "experiment=reference", "logger=none",
         "data.cache_features=false", "trainer.disable_tqdm=true", *common, *overrides,
         f"hydra.run.dir={run_dir}"],
        check=True, stdout=subprocess.DEVNULL,
    )
    return json.loads((run_dir / "results.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-train-samples", type=int, help="train questions (default: all)")
    parser.add_argument("--max-eval-samples", type=int, default=2000)
    parser.add_argument("--epochs", type=float, default=2)
    args = parser.parse_args()
    common = [f"data.max_eval_samples={args.max_eval_samples}",
              f"trainer.num_train_epochs={args.epochs}"]
    if args.max_train_samples:
        common.append(f"data.max_train_samples={args.max_train_samples}")
    units = bf16_units(cpu_flags())
    variants = {**VARIANTS, **(DEFAULTS_FP32 if units else {})}
    results = {}
    with tempfile.TemporaryDirectory() as out:
        for name, overrides in variants.items():
            results[name] = r = run(name, overrides, common, Path(out))
            print(f"{name}: {r['train_samples_per_second']:.2f} samples/s, "
                  f"{r['train_tokens_per_second']:.0f} tokens/s, train {r['train_runtime']:.0f} s, "
                  f"peak RSS {r['peak_memory_mb'] / 1024:.1f} GB, {r['precision']}, "
                  f"EM {r['exact_match']:.2f} / F1 {r['f1']:.2f}", flush=True)
    base, ours = results[next(iter(VARIANTS))], results["project defaults"]
    ratio = ours["train_samples_per_second"] / base["train_samples_per_second"]
    gap = ours["f1"] - base["f1"]
    print(f"train samples/s ratio: {ratio:.2f}x at F1 {ours['f1']:.2f} vs {base['f1']:.2f} "
          f"({gap:+.2f})")
    print_flops(results, units)


def print_flops(results: dict[str, dict], units: list[str]) -> None:
    """The achieved training FLOP/s of each variant against the fp32 and bf16 matrix-multiply
    rates measured now, in this process (PyTorch's default threads, as training uses)."""
    peak = {name: cpu_matmul_flops(dtype) for name, dtype in
            (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    print(f"matrix product 2048^3 on {torch.get_num_threads()} threads: "
          f"fp32 {peak['fp32'] / 1e9:.1f} GFLOP/s, bf16 {peak['bf16'] / 1e9:.1f} GFLOP/s "
          f"(bf16/fp32 {peak['bf16'] / peak['fp32']:.2f}x; CPU bf16 units: "
          f"{', '.join(units) or 'none'})")
    for name, r in results.items():
        window = r["train_tokens_per_second"] / r["train_samples_per_second"]
        achieved = flops_per_token(minilm_path(), window) * r["train_tokens_per_second"]
        print(f"{name} ({r['precision']}): training {achieved / 1e9:.1f} GFLOP/s = "
              f"{achieved / peak['fp32']:.1%} of the fp32 peak, "
              f"{achieved / peak['bf16']:.1%} of the bf16 peak "
              f"(mean window {window:.0f} tokens)")

if __name__ == "__main__":
    main()
