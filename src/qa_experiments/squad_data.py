"""Read SQuAD data (Hub, nested official JSON, flat records), check every record, report.

Every split becomes a `datasets.Dataset` with the Hub's flat columns: id, title, context,
question, answers = {"text": [...], "answer_start": [...]}. Records that cannot be used are
counted per problem and dropped (or, with data.invalid_records=fail, refused before training).
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets

from qa_experiments.hub import resolve_local_files_only

REQUIRED_FIELDS = ("id", "context", "question", "answers")
REPAIR_WINDOW = 3  # characters an answer_start may be off (whitespace) and still be repaired
MAX_CONTEXT_CHARS = 100_000  # ~50x SQuAD's longest paragraph: a whole book pasted by mistake


class DataError(ValueError):
    """Data that is not usable SQuAD; the message names the file and the problem."""


@dataclass
class SplitReport:
    """What was found while reading one split."""

    source: str
    records_read: int = 0
    examples_used: int = 0
    dropped: Counter = field(default_factory=Counter)
    repaired: Counter = field(default_factory=Counter)
    first_problems: list[str] = field(default_factory=list)

    def problem(self, kind: str, record_id: Any, detail: str) -> None:
        self.dropped[kind] += 1
        if len(self.first_problems) < 5:
            self.first_problems.append(f"{kind} (id {record_id!r}): {detail}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "records_read": self.records_read,
            "examples_used": self.examples_used,
            "dropped": dict(self.dropped),
            "repaired": dict(self.repaired),
        }

    def summary(self) -> str:
        text = f"{self.source}: {self.records_read} records read, {self.examples_used} used"
        if self.dropped:
            text += ", dropped " + ", ".join(f"{n} {k}" for k, n in sorted(self.dropped.items()))
        if self.repaired:
            text += ", repaired " + ", ".join(f"{n} {k}" for k, n in self.repaired.items())
        return text


def load_split(data_cfg, split: str) -> tuple[datasets.Dataset, SplitReport]:
    """Load, check and limit the `train` or `eval` split described by the data config."""
    is_train = split == "train"
    if data_cfg.dataset_name:
        hub_split = data_cfg.train_split if is_train else data_cfg.eval_split
        source = f"{data_cfg.dataset_name}[{hub_split}]"
        records = _read_hub(data_cfg.dataset_name, data_cfg.dataset_config_name, hub_split)
    else:
        source = str(data_cfg.train_file if is_train else data_cfg.eval_file)
        records = read_squad_file(source)
    report = SplitReport(source=source, records_read=len(records))
    examples = check_records(
        records, report, version_2=data_cfg.version_2_with_negative, is_train=is_train
    )
    if data_cfg.invalid_records == "fail" and report.dropped:
        raise DataError(
            f"{report.summary()}. First problems: {'; '.join(report.first_problems)}. "
            "Fix the file or set data.invalid_records=skip to train on the valid records."
        )
    if not examples:
        raise DataError(f"{source}: no usable SQuAD records ({report.summary()}).")
    limit = data_cfg.max_train_samples if is_train else data_cfg.max_eval_samples
    examples = examples[:limit] if limit else examples
    report.examples_used = len(examples)
    return datasets.Dataset.from_list(examples), report


def read_squad_file(path: str | Path) -> list[dict[str, Any]]:
    """Read nested official SQuAD JSON or flat records (.json, .jsonl, optionally .gz)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"Data file {str(path)!r} does not exist or is not a file.")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            if path.name.endswith((".jsonl", ".jsonl.gz")):
                return [json.loads(line) for line in handle if line.strip()]
            content = json.load(handle)
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error}).") from error
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: invalid JSON at line {error.lineno}: {error.msg}.") from error
    except OSError as error:
        raise DataError(f"{path}: cannot be read ({error}).") from error
    return _flatten(content, path)


def _flatten(content: Any, path: Path) -> list[dict[str, Any]]:
    items = content.get("data") if isinstance(content, dict) else content
    if not isinstance(items, list):
        raise DataError(
            f"{path}: not SQuAD layout; expected {{'data': [articles with 'paragraphs']}} "
            "(official) or a list of flat records with id/context/question/answers."
        )
    if items and isinstance(items[0], dict) and "paragraphs" in items[0]:
        return list(_flatten_nested(items))
    return items


def _flatten_nested(articles: list[dict]) -> Any:
    for article in articles:
        for paragraph in article.get("paragraphs", []):
            for qa in paragraph.get("qas", []):
                yield {
                    "id": qa.get("id"),
                    "title": article.get("title", ""),
                    "context": paragraph.get("context"),
                    "question": qa.get("question"),
                    "answers": qa.get("answers"),  # a list of {text, answer_start}
                    "is_impossible": qa.get("is_impossible", False),
                }


def check_records(
    records: list[Any], report: SplitReport, *, version_2: bool, is_train: bool
) -> list[dict[str, Any]]:
    """Keep the usable records in the flat layout; count and describe the others."""
    kept: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    for record in records:
        example = _check_record(record, report, version_2=version_2, is_train=is_train)
        if example is None:
            continue
        if example["id"] in seen_ids:
            report.problem("duplicate_id", example["id"], "id seen before in this split")
            continue
        seen_ids.add(example["id"])
        kept.append(example)
    return kept


def _check_record(record, report, *, version_2, is_train):  # noqa: C901 - one check per line
    record_id = record.get("id") if isinstance(record, dict) else None
    if not isinstance(record, dict) or any(record.get(k) is None for k in REQUIRED_FIELDS):
        missing = [k for k in REQUIRED_FIELDS if not isinstance(record, dict) or k not in record]
        report.problem("missing_field", record_id, f"missing {', '.join(missing) or 'values'}")
        return None
    context, question = record["context"], record["question"]
    if not isinstance(context, str) or not context.strip():
        report.problem("empty_context", record_id, "context is empty")
        return None
    if not isinstance(question, str) or not question.strip():
        report.problem("empty_question", record_id, "question is empty")
        return None
    if len(context) > MAX_CONTEXT_CHARS:
        report.problem("context_too_long", record_id, f"{len(context)} characters")
        return None
    answers = _answer_lists(record["answers"])
    if answers is None:
        report.problem("malformed_answers", record_id, "answers is not {text, answer_start}")
        return None
    texts, starts = answers
    impossible = bool(record.get("is_impossible", False))
    if impossible and texts:
        report.problem("inconsistent_v2_flag", record_id, "is_impossible but has answers")
        return None
    if not texts and not version_2:
        report.problem("no_answer", record_id, "no answers in a SQuAD v1.1 dataset")
        return None
    for i, (text, start) in enumerate(zip(texts, starts)):
        problem = _check_answer(context, text, start)
        if problem is None:
            continue
        if problem == "repairable":
            starts[i] = _nearby_start(context, text, start)
            report.repaired["answer_start_off_by_whitespace"] += 1
        elif is_train and i == 0:
            report.problem(problem, record_id, f"answer {text!r} at {start}")
            return None
    return {
        "id": str(record["id"]),
        "title": str(record.get("title") or ""),
        "context": context,
        "question": question,
        "answers": {"text": texts, "answer_start": starts},
    }


def _answer_lists(answers: Any) -> tuple[list[str], list[int]] | None:
    if isinstance(answers, list):  # a list of {"text", "answer_start"} dicts
        try:
            answers = {
                "text": [a["text"] for a in answers],
                "answer_start": [a["answer_start"] for a in answers],
            }
        except (KeyError, TypeError):
            return None
    if not isinstance(answers, dict):
        return None
    texts, starts = answers.get("text"), answers.get("answer_start")
    if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts):
        return None
    if not all(isinstance(t, str) for t in texts) or not all(isinstance(s, int) for s in starts):
        return None
    return list(texts), list(starts)


def _check_answer(context: str, text: str, start: int) -> str | None:
    """None when the answer sits at its start; else the kind of problem."""
    if not text.strip():
        return "empty_answer"
    if start < 0 or start + len(text) > len(context):
        return "answer_outside_context"
    if context[start : start + len(text)] == text:
        return None
    if _nearby_start(context, text, start) is not None:
        return "repairable"
    return "answer_not_at_start"


def _nearby_start(context: str, text: str, start: int) -> int | None:
    for shift in range(1, REPAIR_WINDOW + 1):
        for candidate in (start - shift, start + shift):
            if 0 <= candidate and context[candidate : candidate + len(text)] == text:
                return candidate
    return None


def _read_hub(name: str, config_name: str | None, split: str) -> list[dict[str, Any]]:
    if resolve_local_files_only(name, "dataset", "dataset"):
        # Cached but the Hub is unreachable: datasets reads this flag at call time.
        datasets.config.HF_HUB_OFFLINE = True
    return datasets.load_dataset(name, config_name, split=split).to_list()
