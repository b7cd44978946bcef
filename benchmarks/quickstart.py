"""The quick start against its earlier settings (issue #33): F1 on its 500 dev questions and
seconds of training, both presets run by this script one after the other on the same machine.

    python benchmarks/quickstart.py --out quickstart-results            # about 7 minutes, 2 cores
    python benchmarks/quickstart.py --out R --repeats 2                # alternate the two twice

Each run is the real `qa-train experiment=quickstart` in a subprocess, in its own run
directory; "before" adds the settings the preset had until 2026-12-07 (batches of 16 windows
at lr 2e-4). F1 does not depend on the load (same seed, same windows); seconds do, so take
them on a quiet machine and compare them only as the ratio printed here (median of repeats).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

VARIANTS = {
    "before (batch 16, lr 2e-4)": ["hardware.train_batch_size=16", "optimizer.lr=2e-4"],
    "quick start now": [],
}


def train(run_dir: Path, overrides: list[str]) -> dict:
    """results.json of one `qa-train experiment=quickstart` run in `run_dir`."""
    subprocess.run([sys.executable, "-m", "qa_experiments.train", "experiment=quickstart",
                    "trainer.disable_tqdm=true", *overrides, f"hydra.run.dir={run_dir}"],
                   check=True, stdout=subprocess.DEVNULL)
    return json.loads((run_dir / "results.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    for repeat in range(args.repeats):
        for index, (name, overrides) in enumerate(VARIANTS.items()):
            runs[name].append(train(args.out / f"{index}-{repeat}", overrides))
    seconds = {name: statistics.median(r["train_runtime"] for r in results)
               for name, results in runs.items()}
    first = next(iter(VARIANTS))
    print("| settings | steps | EM | F1 | seconds of training | vs before |")
    print("|---|---|---|---|---|---|")
    for name, results in runs.items():
        last = results[-1]
        print(f"| {name} | {last['train_steps']} | {last['exact_match']:.2f} | {last['f1']:.2f} "
              f"| {seconds[name]:.0f} | {seconds[name] / seconds[first]:.2f}x |")


if __name__ == "__main__":
    main()
