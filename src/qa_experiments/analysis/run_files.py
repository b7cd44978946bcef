"""Read what error analysis needs: a question file and the scores written beside it.

A run writes RUN_DIR/eval_questions.jsonl beside results.json; qa-evaluate writes
eval_<stem>_questions.jsonl beside eval_<stem>.json. Anything unusable raises ReportInputError
with one line naming the file, the problem and what to do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

QUESTIONS_FILE = "eval_questions.jsonl"
QUESTIONS_SUFFIX = "_questions.jsonl"
REQUIRED_FIELDS = ("id", "question", "context", "answers", "answer_starts", "prediction",
                   "exact_match", "f1", "windows")
REWRITE_HINT = "re-run `qa-evaluate RUN_DIR --data FILE` to write it again"


class ReportInputError(ValueError):
    """A run directory or question file that cannot be analysed; the message says why."""


def questions_path(run_dir: Path, questions: Path | None = None) -> Path:
    """The question file to analyse: `questions`, else RUN_DIR/eval_questions.jsonl."""
    if not run_dir.is_dir():
        raise ReportInputError(f"{run_dir}: not a run directory (it does not exist).")
    if questions is None:
        return run_dir / QUESTIONS_FILE
    if not questions.is_file():
        raise ReportInputError(f"{questions}: no such question file (--questions).")
    return questions


def results_path(questions: Path) -> Path:
    """The scores beside a question file: results.json for a run's own, else <stem>.json."""
    if questions.name == QUESTIONS_FILE:
        return questions.with_name("results.json")
    return questions.with_name(questions.name.removesuffix(QUESTIONS_SUFFIX) + ".json")


def read_questions(path: Path) -> list[dict[str, Any]]:
    """The per-question records of a question file (see answers/question_records.py)."""
    if not path.is_file():
        raise ReportInputError(
            f"{path}: missing; runs and qa-evaluate write it from this version on; "
            f"{REWRITE_HINT}.")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ReportInputError(f"{path}: cannot be read ({error}).") from error
    records = [_record(line, path, number) for number, line in enumerate(lines, 1) if line.strip()]
    if not records:
        raise ReportInputError(f"{path}: holds no question; {REWRITE_HINT}.")
    return records


def _record(line: str, path: Path, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ReportInputError(
            f"{path}: line {number} is not JSON ({error.msg}; the file may be cut short); "
            f"{REWRITE_HINT}.") from error
    if not isinstance(record, dict):
        raise ReportInputError(f"{path}: line {number} is not a JSON object; {REWRITE_HINT}.")
    missing = [name for name in REQUIRED_FIELDS if name not in record]
    if missing:
        raise ReportInputError(
            f"{path}: line {number} lacks {', '.join(missing)}; {REWRITE_HINT}.")
    return record


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in `path`; None when missing, unreadable, half-written or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None
