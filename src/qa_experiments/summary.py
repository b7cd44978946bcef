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
        f"Run files (results.json, predictions.json, report/report.md, model/, train.log): "
        f"{run_dir}",
        "Next:",
        f"  qa-predict {run} -q 'Who wrote it?' -c 'It was written by Ada.'   # answer a question",
        f"  qa-evaluate {run} --data FILE.json   # score the model on other SQuAD data",
        f"  qa-report {run}   # error analysis again (written to report/ by the run)",
        f"  qa-compare {shlex.quote(str(run_dir.parent))}   # compare with other runs",
    ])
