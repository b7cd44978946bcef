"""Read what error analysis needs from a run directory: eval_questions.jsonl and results.json.

Anything unusable raises ReportInputError with one line naming the file, the problem and what
to do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

QUESTIONS_FILE = "eval_questions.jsonl"
REQUIRED_FIELDS = ("id", "question", "context", "answers", "answer_starts", "prediction",
                   "exact_match", "f1", "windows")
REWRITE_HINT = "re-run `qa-evaluate RUN_DIR` to write it again"


class ReportInputError(ValueError):
    """A run directory or question file that cannot be analysed; the message says why."""


def read_questions(run_dir: Path) -> list[dict[str, Any]]:
    """The per-question records of a run (see answers/question_records.py)."""
    if not run_dir.is_dir():
        raise ReportInputError(f"{run_dir}: not a run directory (it does not exist).")
    path = run_dir / QUESTIONS_FILE
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


def read_results(run_dir: Path) -> dict[str, Any] | None:
    """results.json (or qa-evaluate's figures) when present and readable, else None."""
    try:
        results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return results if isinstance(results, dict) else None
