"""Distillation (issue #31): does a 3-layer MiniLM student distilled from the reference MiniLM
close at least 40% of the F1 gap to its teacher, at 1.8x or more the teacher's questions/s?

    python benchmarks/distillation.py --out distillation-results          # about an hour on CPU
    python benchmarks/distillation.py --out R --teacher outputs/DATE/TIME  # reuse a teacher run

Trains, each with `qa-train` in a subprocess (the real command, in its own run directory):
the teacher (`experiment=reference`, skipped with --teacher), the student fine-tuned plainly
(`experiment=reference model.num_hidden_layers=3`) and the same student distilled
(`... distill=logits distill.teacher=TEACHER`): same data, epochs and seed. Then answers the
first --questions dev questions with each model through the same path
(`QuestionAnswerer.answer_batch`, batches of --batch questions), alternating the models for
--rounds rounds (step times swing by 20% here: only ratios within one run are compared), and
the same for the students' and the teacher's int8 ONNX exports (`qa-export --quantize int8`).
Writes distillation.json and distillation.md into --out.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

from qa_experiments.config.paths import bundled_data_path
from qa_experiments.inference.answerer import QuestionAnswerer

STUDENT = ["experiment=reference", "model.num_hidden_layers=3", "logger=none"]
TARGET_GAP_CLOSED = 0.40
TARGET_SPEEDUP = 1.8


def train(run_dir: Path, overrides: list[str]) -> dict:
    """results.json of `qa-train OVERRIDES` in `run_dir` (reused when it already finished)."""
    subprocess.run([sys.executable, "-m", "qa_experiments.train", *overrides,
                    f"hydra.run.dir={run_dir}"], check=True)
    return json.loads((run_dir / "results.json").read_text())


def export(run_dir: Path) -> Path:
    out = run_dir.parent / f"{run_dir.name}-int8"
    if not out.is_dir():
        subprocess.run([sys.executable, "-m", "qa_experiments.export", str(run_dir),
                        "--quantize", "int8", "--out", str(out)], check=True)
    return out


def dev_pairs(count: int) -> list[tuple[str, str]]:
    """(question, context) of the first `count` SQuAD v1.1 dev questions."""
    with gzip.open(bundled_data_path("dev-v1.1.json.gz"), "rt") as handle:
        articles = json.load(handle)["data"]
    pairs = [(qa["question"], paragraph["context"]) for article in articles
             for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    return pairs[:count]


def questions_per_second(models: dict[str, Path], pairs, batch: int, rounds: int) -> dict:
    """Median questions/s of each model, the models alternated in each round."""
    answerers = {name: QuestionAnswerer.load(path) for name, path in models.items()}
    rates: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, answerer in answerers.items():
            started = time.perf_counter()
            for start in range(0, len(pairs), batch):
                answerer.answer_batch(pairs[start:start + batch])
            rates[name].append(len(pairs) / (time.perf_counter() - started))
    for answerer in answerers.values():
        answerer.close()
    return {name: sorted(values)[len(values) // 2] for name, values in rates.items()}


def summary(scores: dict, rates: dict) -> dict:
    teacher, plain, distilled = (scores[k]["f1"] for k in ("teacher", "plain", "distilled"))
    gap = teacher - plain
    closed = (distilled - plain) / gap if gap > 0 else None
    speedup = rates["distilled"] / rates["teacher"]
    return {"f1": {k: v["f1"] for k, v in scores.items()},
            "exact_match": {k: v["exact_match"] for k, v in scores.items()},
            "questions_per_second": rates, "gap_closed": closed, "student_speedup": speedup,
            "target_met": closed is not None and closed >= TARGET_GAP_CLOSED
            and speedup >= TARGET_SPEEDUP}


def markdown(result: dict) -> str:
    lines = ["| model | EM | F1 | questions/s |", "|---|---|---|---|"]
    for name in ("teacher", "plain", "distilled"):
        lines.append(f"| {name} | {result['exact_match'][name]:.2f} | {result['f1'][name]:.2f} "
                     f"| {result['questions_per_second'][name]:.1f} |")
    for name in ("teacher-int8", "plain-int8", "distilled-int8"):
        lines.append(f"| {name} | | | {result['questions_per_second'][name]:.1f} |")
    closed = result["gap_closed"]
    lines += ["", f"Gap closed: {'n/a' if closed is None else f'{closed:.0%}'} (target "
              f"{TARGET_GAP_CLOSED:.0%}); student/teacher questions/s: "
              f"{result['student_speedup']:.2f}x (target {TARGET_SPEEDUP}x); target met: "
              f"{result['target_met']}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--teacher", type=Path, help="a finished experiment=reference run")
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--alpha", type=float, default=0.5)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    teacher = args.teacher or args.out / "teacher"
    scores = {"teacher": train(teacher, ["experiment=reference", "logger=none"]),
              "plain": train(args.out / "plain", STUDENT)}
    scores["distilled"] = train(args.out / "distilled", STUDENT + [
        "distill=logits", f"distill.teacher={teacher.resolve()}",
        f"distill.temperature={args.temperature}", f"distill.alpha={args.alpha}"])
    runs = {"teacher": teacher, "plain": args.out / "plain", "distilled": args.out / "distilled"}
    models = {**runs, **{f"{name}-int8": export(path) for name, path in runs.items()}}
    rates = questions_per_second(models, dev_pairs(args.questions), args.batch, args.rounds)
    result = {**summary(scores, rates), "temperature": args.temperature, "alpha": args.alpha,
              "questions": args.questions}
    (args.out / "distillation.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "distillation.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
