"""CPU training speed of each backbone family, and LoRA against full fine-tuning of MiniLM.

Part 1 trains each tiny family (`model=tiny_*`) and MiniLM for the same number of steps on the
same bundled questions and prints train samples/s. Part 2 trains MiniLM on the quick-start
data (`experiment=quickstart`: 1,000 questions, 1 epoch, scored on 500 dev questions) twice,
fully and with LoRA (`model.lora.enabled=true`; LoRA usually wants a higher learning rate,
--lora-lr), alternating the two --repeats times, and prints F1 and samples/s of each.

Take figures only on a quiet machine: step times swing by 20% or more when other work shares
the cores (docs/benchmarks.md), so compare the runs of one invocation as ratios.

    python benchmarks/backbones.py                       # both parts
    python benchmarks/backbones.py --part families --steps 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

FAMILIES = ("tiny_bert", "tiny_distilbert", "tiny_roberta", "tiny_deberta_v3", "tiny_modernbert",
            "tiny_xlm_roberta", "tiny_electra", "minilm")


def train(run_dir: Path, overrides: list[str]) -> dict:
    """One real `qa-train` run in a subprocess; its results.json."""
    subprocess.run(
        [sys.executable, "-m", "qa_experiments.train", "logger=none", "hardware=cpu",
         "data.cache_features=true", "trainer.disable_tqdm=true", *overrides,
         f"hydra.run.dir={run_dir}"],
        check=True, stdout=subprocess.DEVNULL,
    )
    return json.loads((run_dir / "results.json").read_text())


def families(out: Path, steps: int) -> None:
    """Train samples/s of every family, same steps and data (the first run builds the tiny
    models and caches the windows, so each family runs once untimed first)."""
    common = ["data=sample", "data.max_train_samples=400", "data.max_eval_samples=50",
              f"trainer.max_steps={steps}", "hardware.train_batch_size=16"]
    print("| model | train samples/s |\n|---|---|")
    for family in FAMILIES:
        train(out / f"{family}-warm", [f"model={family}", *common, "trainer.max_steps=1"])
        result = train(out / family, [f"model={family}", *common])
        print(f"| `{family}` | {result['train_samples_per_second']:.2f} |", flush=True)


def lora_against_full(out: Path, repeats: int, lora_lr: float) -> None:
    """MiniLM on the quick-start data, full fine-tuning and LoRA alternated."""
    variants = {"full fine-tuning": [], "LoRA": ["model.lora.enabled=true",
                                                 f"optimizer.lr={lora_lr}"]}
    seen: dict[str, list[dict]] = {name: [] for name in variants}
    for repeat in range(repeats):
        for name, overrides in variants.items():
            run_dir = out / f"{name.replace(' ', '_')}-{repeat}"
            seen[name].append(train(run_dir, ["experiment=quickstart", *overrides]))
    print("| MiniLM, quick-start data | F1 | train samples/s | weights trained |")
    print("|---|---|---|---|")
    for name, results in seen.items():
        speed = statistics.median(r["train_samples_per_second"] for r in results)
        print(f"| {name} | {statistics.median(r['f1'] for r in results):.2f} | {speed:.2f} "
              f"| {results[0]['trainable_share']:.2%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("families", "lora", "both"), default="both")
    parser.add_argument("--steps", type=int, default=30, help="optimizer steps per family")
    parser.add_argument("--repeats", type=int, default=1, help="LoRA/full pairs, alternated")
    parser.add_argument("--lora-lr", type=float, default=1e-3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        if args.part in ("families", "both"):
            families(Path(scratch), args.steps)
        if args.part in ("lora", "both"):
            lora_against_full(Path(scratch), args.repeats, args.lora_lr)


if __name__ == "__main__":
    main()
