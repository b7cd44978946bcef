"""The few lines a person reads at the end of a run: scores, where the files are, what next."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any


def run_summary(results: dict[str, Any], run_dir: Path) -> str:
    """Scores, the run directory and the commands to try on it next."""
    run = shlex.quote(str(run_dir))
    resumed = (f", resumed from step {results['resumed_from_step']}"
               if results.get("resumed_from_step") else "")
    return "\n".join([
        f"Finished: exact_match={results['exact_match']:.2f} f1={results['f1']:.2f} on "
        f"{results['eval_examples']} questions ({results['train_runtime']:.0f} s of training, "
        f"{results['train_samples_per_second']:.2f} samples/s{resumed}).",
        *([f"Evaluation data: {results['eval_note']}"] if results.get("eval_note") else []),
        *tuning_lines(results),
        f"Run files (results.json, predictions.json, nbest_predictions.json, "
        f"eval_questions.jsonl, report/report.md, model/, train.log): {run_dir}",
        "Next:",
        f"  qa-predict {run} -q 'Who wrote it?' -c 'It was written by Ada.'   # answer a question",
        f"  qa-evaluate {run} --data FILE.json   # score the model on other SQuAD data",
        f"  qa-report {run}   # error analysis again (written to report/ by the run)",
        f"  qa-compare {shlex.quote(str(run_dir.parent))}   # compare with other runs",
    ])


def tuning_lines(results: dict[str, Any]) -> list[str]:
    """The calibration and no-answer threshold figures (see answers.tuning), when present."""
    lines = []
    calibration = results.get("calibration")
    if calibration and "skipped" in calibration:
        lines.append(f"calibration: skipped ({calibration['skipped']})")
    elif calibration:
        lines.append(
            f"calibration ({calibration['method']}, {calibration['folds']}-fold cross-validated):"
            f" ECE {calibration['ece_before']:.4f} -> {calibration['ece_after']:.4f}, "
            f"Brier {calibration['brier_before']:.4f} -> {calibration['brier_after']:.4f}")
        if (calibration["brier_after"] >= calibration["brier_before"]
                or calibration["ece_after"] >= calibration["ece_before"]):
            lines.append("  (calibration did not help on held-out questions: treat the "
                         "confidence as no better than the raw probability; see report/report.md)")
    stored = results.get("stored_calibration")
    if stored:
        lines.append(f"stored calibration on these questions: ECE {stored['ece']:.4f}, "
                     f"Brier {stored['brier']:.4f}")
    threshold = results.get("no_answer_threshold")
    if threshold and "skipped" in threshold:
        lines.append(f"no-answer threshold: skipped ({threshold['skipped']})")
    elif threshold:
        lines.append(
            f"no-answer threshold: f1={threshold['f1_at_threshold_0']:.2f} at 0, "
            f"f1={threshold['cross_validated_f1']:.2f} tuned (cross-validated), "
            f"oracle best_f1={results['best_f1']:.2f} (na_prob threshold "
            f"{results['best_f1_thresh']:.4f}); tuned on all: "
            f"{threshold['tuned_threshold']:.4f}")
    return lines
