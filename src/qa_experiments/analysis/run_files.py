"""Read what error analysis needs: a question file and the scores written beside it.

A run writes RUN_DIR/eval_questions.jsonl beside results.json; qa-evaluate writes
eval_<stem>_questions.jsonl beside eval_<stem>.json. Anything unusable raises ReportInputError
with one line naming the file, the problem and what to do.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qa_experiments.errors import UserError
from qa_experiments.runs import layout

QUESTIONS_SUFFIX = "_questions.jsonl"
REQUIRED_FIELDS = ("id", "question", "context", "answers", "answer_starts", "prediction",
                   "exact_match", "f1", "windows")
REWRITE_HINT = "re-run `qa-evaluate RUN_DIR --data FILE` to write it again"
# qa-evaluate writes eval_<stem>_questions.jsonl, never a run's own eval_questions.jsonl
RUN_REWRITE_HINT = ("score the run again with `qa-evaluate RUN_DIR --data EVAL_FILE` and give "
                    "the eval_<stem>_questions.jsonl it writes to `qa-report RUN_DIR --questions`")


class ReportInputError(UserError, ValueError):
    """A run directory or question file that cannot be analysed; the message says why."""


def questions_path(run_dir: Path, questions: Path | None = None) -> Path:
    """The question file to analyse: `questions`, else RUN_DIR/eval_questions.jsonl."""
    if not run_dir.is_dir():
        raise ReportInputError(f"{run_dir}: not a run directory (it does not exist).")
    if questions is None:
        return run_dir / layout.QUESTIONS
    if not questions.is_file():
        raise ReportInputError(f"{questions}: no such question file (--questions).")
    return questions


def check_finished_run(run_dir: Path) -> None:
    """ReportInputError unless `run_dir` may hold a finished run's question records: its
    status.json says it is running, failed or was pruned (the files there are missing, partial
    or left by an earlier attempt), or it has neither status.json nor eval_questions.jsonl."""
    status = layout.read_json_object(run_dir / layout.STATUS)
    if status is None:
        if not (run_dir / layout.QUESTIONS).exists():
            raise ReportInputError(
                f"{run_dir}: not a run directory (no status.json, no {layout.QUESTIONS}); give "
                "the directory of a qa-train run.")
        return  # question records without a status: analysed as they are
    state = status.get("status")
    if state != layout.FINISHED:
        error = " ".join(str(status.get("error") or "").split())[:120]
        raise ReportInputError(
            f"{run_dir}: the run has not finished (status.json: {state}"
            f"{': ' + error if error else ''}), so it has no complete {layout.QUESTIONS}; "
            "report on it once it has finished, or score one of its checkpoints with "
            "`qa-evaluate CHECKPOINT --data FILE` and give its questions file with --questions.")


def results_path(questions: Path) -> Path:
    """The scores beside a question file: results.json for a run's own, else <stem>.json."""
    if questions.name == layout.QUESTIONS:
        return questions.with_name(layout.RESULTS)
    return questions.with_name(questions.name.removesuffix(QUESTIONS_SUFFIX) + ".json")


def read_questions(path: Path) -> list[dict[str, Any]]:
    """The per-question records of a question file (see scoring/question_records.py)."""
    if not path.is_file():
        raise ReportInputError(
            f"{path}: missing; runs and qa-evaluate write it from this version on; "
            f"{rewrite_hint(path)}.")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ReportInputError(f"{path}: cannot be read ({error}).") from error
    records = [_record(line, path, number) for number, line in enumerate(lines, 1) if line.strip()]
    if not records:
        raise ReportInputError(f"{path}: holds no question; {rewrite_hint(path)}.")
    return records


def rewrite_hint(path: Path) -> str:
    """How to get a usable question file in place of `path`."""
    return RUN_REWRITE_HINT if path.name == layout.QUESTIONS else REWRITE_HINT


def _record(line: str, path: Path, number: int) -> dict[str, Any]:
    where = f"{path}: line {number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ReportInputError(
            f"{where} is not JSON ({error.msg}; the file may be cut short); "
            f"{rewrite_hint(path)}.") from error
    if not isinstance(record, dict):
        raise ReportInputError(f"{where} is not a JSON object; {rewrite_hint(path)}.")
    missing = [name for name in REQUIRED_FIELDS if name not in record]
    if missing:
        raise ReportInputError(f"{where} lacks {', '.join(missing)}; {rewrite_hint(path)}.")
    problem = field_problem(record)
    if problem:
        raise ReportInputError(f"{where}: {problem}; {rewrite_hint(path)}.")
    return record


def finite_number(value: Any) -> float | None:
    """A finite number as float; None for anything else (NaN, inf, text, bool, null)."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if is_number and math.isfinite(value) else None


def is_share(value: Any) -> bool:
    """A finite number in [0, 1] (a probability, an exact match, an F1)."""
    number = finite_number(value)
    return number is not None and 0 <= number <= 1


def _is_text_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _is_int_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value)


# field -> (check, what it must be); optional fields are checked only when set (not null)
FIELD_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "id": (lambda v: isinstance(v, str), "text"),
    "question": (lambda v: isinstance(v, str), "text"),
    "context": (lambda v: isinstance(v, str), "text"),
    "prediction": (lambda v: isinstance(v, str), "text"),
    "answers": (_is_text_list, "a list of texts"),
    "answer_starts": (_is_int_list, "a list of integers"),
    "exact_match": (is_share, "a number in [0, 1]"),
    "f1": (is_share, "a number in [0, 1]"),
    "windows": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                "an integer >= 1"),
    "answer_start_char": (lambda v: isinstance(v, int) and not isinstance(v, bool),
                          "an integer"),
    "no_answer_probability": (is_share, "a number in [0, 1]"),
    "best_span_exact_match": (is_share, "a number in [0, 1]"),
    "best_span_f1": (is_share, "a number in [0, 1]"),
}


def field_problem(record: dict[str, Any]) -> str | None:
    """What is wrong with a record's fields (a value of the wrong type, or gold answers
    without one start each), or None."""
    for name, (check, expected) in FIELD_CHECKS.items():
        value = record.get(name)
        if (name in REQUIRED_FIELDS or value is not None) and not check(value):
            return f"{name} is {json.dumps(value)[:40]}, expected {expected}"
    if len(record["answer_starts"]) != len(record["answers"]):
        return (f"{len(record['answers'])} answers but {len(record['answer_starts'])} "
                "answer_starts")
    return None

