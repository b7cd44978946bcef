"""CPU training throughput: fixed 384 padding (the references) vs the project's defaults.

Same model (MiniLM), data (the bundled genuine v1.1 train subset) and hyperparameters
(`experiment=reference`), measured one after the other in this run. Prints train samples/s,
non-padding tokens/s, peak memory and dev F1 of both; the last line is the headline ratio.

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

VARIANTS = {
    "fixed 384 padding, random order": ["data.pad_to_max_length=true",
                                        "data.length_bucket_width=null"],
    "project defaults": [],
}


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
    results = {}
    with tempfile.TemporaryDirectory() as out:
        for name, overrides in VARIANTS.items():
            results[name] = r = run(name, overrides, common, Path(out))
            print(f"{name}: {r['train_samples_per_second']:.2f} samples/s, "
                  f"{r['train_tokens_per_second']:.0f} tokens/s, train {r['train_runtime']:.0f} s, "
                  f"peak RSS {r['peak_memory_mb'] / 1024:.1f} GB, "
                  f"EM {r['exact_match']:.2f} / F1 {r['f1']:.2f}", flush=True)
    base, ours = results.values()
    ratio = ours["train_samples_per_second"] / base["train_samples_per_second"]
    gap = ours["f1"] - base["f1"]
    print(f"train samples/s ratio: {ratio:.2f}x at F1 {ours['f1']:.2f} vs {base['f1']:.2f} "
          f"({gap:+.2f})")


if __name__ == "__main__":
    main()
