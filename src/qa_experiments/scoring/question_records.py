"""One record per scored question (`eval_questions.jsonl`), the input of error analysis.

Each line is a JSON object, in evaluation order: id, title, question, context, answers (gold
texts, [] if unanswerable), answer_starts, prediction ("" = no answer), exact_match (0/1) and
f1 (0..1) by the run's official rule (`squad_metric.question_scores`), windows (how many
windows the context was cut into), answer_start_char (-1 for no answer), probability (of the
predicted answer, or of no answer when none is given), confidence (calibrated P(exact match),
out-of-fold: from the calibration fitted on the other folds, see `tuning`; null when none
could be fitted); SQuAD v2 records add no_answer_probability, best_span (the best non-empty
answer), best_span_exact_match and best_span_f1.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa_experiments.runs.atomic import write_text
from qa_experiments.scoring.decoding import Prediction
from qa_experiments.scoring.squad_metric import question_scores


def windows_per_question(example_index: Sequence[int], n_questions: int) -> list[int]:
    """How many windows each of the n questions was cut into (from the windows' example index)."""
    return np.bincount(np.asarray(example_index, dtype=np.int64),
                       minlength=n_questions).tolist()


def question_records(
    examples, answers: Sequence[Prediction], windows: Sequence[int], version_2: bool,
    confidences: Sequence[float] | None = None,
) -> list[dict[str, Any]]:
    """The records of `examples` (a datasets.Dataset or a list of dicts with id, question,
    context, answers and optionally title) answered by `answers`, one per question."""
    records = []
    for i, (example, answer) in enumerate(zip(examples, answers, strict=True)):
        golds = list(example["answers"]["text"])
        em, f1 = question_scores(answer.text, golds, version_2)
        record = {
            "id": example["id"],
            "title": example.get("title") or "",
            "question": example["question"],
            "context": example["context"],
            "answers": golds,
            "answer_starts": [int(s) for s in example["answers"]["answer_start"]],
            "prediction": answer.text,
            "exact_match": int(em),
            "f1": f1,
            "windows": int(windows[i]),
            "answer_start_char": answer.start_char,
            "probability": answer.probability,
            "confidence": None if confidences is None else float(confidences[i]),
        }
        if version_2:
            span_em, span_f1 = question_scores(answer.best_span, golds, version_2)
            record.update({
                "no_answer_probability": answer.no_answer_probability,
                "best_span": answer.best_span,
                "best_span_exact_match": int(span_em),
                "best_span_f1": span_f1,
            })
        records.append(record)
    return records


def write_question_records(path: str | Path, records: Sequence[dict[str, Any]]) -> Path:
    """Write the records as JSON lines, atomically."""
    return write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
