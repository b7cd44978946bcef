"""CPU inference: PyTorch fp32 eager vs ONNX Runtime fp32 vs ONNX Runtime int8 (dynamic).

Exports RUN_DIR (by default a run of `experiment=reference`, MiniLM) with qa-export, then
answers the first N dev-v1.1 questions (default 2,000: the reference evaluation) with each
backend, one after the other in this run, through the same windows and decoding
(predictor.predict_file). PyTorch runs padded batches, once per `--batch-sizes` value; ONNX
Runtime runs each window on its own, one per core (inference.onnx_backend.OnnxModel).
questions/s times the answering: cutting the windows, the model and decoding. Reading the file
and scoring are the same work for every backend and are left out. Prints EM/F1 and the share
of questions answered exactly as the first PyTorch row does; the last lines are the targets'
ratios, against the first and the fastest PyTorch rows. Each backend answers `--rounds` times,
in turn, and its median time counts: timings here swing by 20% from one minute to the next.
Run it with nothing else on the machine.

    python benchmarks/onnx_export.py outputs/2026-12-05/10-00-00 [--questions 2000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qa_experiments.config.paths import bundled_data_path
from qa_experiments.evaluation.model_eval import score_predictions
from qa_experiments.inference.predictor import load_examples, load_run, predict_file


def score(label: str, run, data: str, read, batch_size: int | None) -> dict:
    """Answer the questions `read` (load_examples' result) with `run`: speed and scores."""
    started = time.perf_counter()
    examples, answers = predict_file(run, data, batch_size=batch_size, examples=read)
    seconds = time.perf_counter() - started
    texts = [answer.text for answer in answers]
    results = score_predictions(dict(zip(examples["id"], texts)), examples,
                                run.data_cfg.version_2_with_negative)
    row = {"backend": label, "seconds": [seconds], "exact_match": results["exact_match"],
           "f1": results["f1"], "answers": texts}
    print(f"{label}: {len(texts) / seconds:.1f} questions/s ({seconds:.0f} s), "
          f"EM {row['exact_match']:.2f} / F1 {row['f1']:.2f}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--questions", type=int, default=2000)
    parser.add_argument("--batch-sizes", default="64,16",
                        help="windows per PyTorch forward pass, comma-separated: a row each")
    parser.add_argument("--rounds", type=int, default=3,
                        help="times each backend answers, in turn; the median time counts")
    args = parser.parse_args()
    data = bundled_data_path("dev-v1.1.json.gz")
    with tempfile.TemporaryDirectory() as scratch:
        export = Path(scratch) / "onnx"
        subprocess.run([sys.executable, "-m", "qa_experiments.export", str(args.run_dir),
                        "--quantize", "int8", "--out", str(export)], check=True)
        pytorch = load_run(args.run_dir)
        backends = [(f"PyTorch fp32 (eager), batches of {size}", pytorch, int(size))
                    for size in args.batch_sizes.split(",")]
        backends += [(f"ONNX Runtime {precision}", load_run(export, precision=precision), None)
                     for precision in ("fp32", "int8")]
        read = load_examples(pytorch, data, max_samples=args.questions)
        rows = {}
        for _ in range(args.rounds):
            for label, run, batch_size in backends:
                row = score(label, run, data, read, batch_size)
                if label in rows:
                    rows[label]["seconds"] += row["seconds"]
                else:
                    rows[label] = row
    rows = list(rows.values())
    for row in rows:
        row["questions_per_second"] = len(row["answers"]) / statistics.median(row["seconds"])
    *torch_rows, fp32, int8 = rows
    base, fastest = torch_rows[0], max(torch_rows, key=lambda row: row["questions_per_second"])
    print(f"\n| backend | questions/s (median of {args.rounds}) | vs fastest PyTorch | EM | F1 | "
          "same answer as PyTorch |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['backend']} | {row['questions_per_second']:.1f} | "
              f"{speed(row, fastest):.2f}x | {row['exact_match']:.2f} | {row['f1']:.2f} | "
              f"{100 * same_share(row, base):.1f}% |")
    print(f"\nONNX fp32 same answer as PyTorch: {100 * same_share(fp32, base):.1f}% "
          "(target >= 99.5%)")
    print(f"int8 F1 vs ONNX fp32: {int8['f1'] - fp32['f1']:+.2f} (target: within 1 point)")
    print(f"int8 speed (target >= 2.5x PyTorch fp32): {speed(int8, base):.2f}x {base['backend']}; "
          f"{speed(int8, fastest):.2f}x the fastest PyTorch row ({fastest['backend']})")


def speed(row: dict, base: dict) -> float:
    return row["questions_per_second"] / base["questions_per_second"]


def same_share(row: dict, base: dict) -> float:
    return sum(a == b for a, b in zip(row["answers"], base["answers"])) / len(base["answers"])


if __name__ == "__main__":
    main()
