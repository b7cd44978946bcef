"""Read SQuAD data (Hub, nested official JSON, flat records), check every record, report.

Every split becomes a `datasets.Dataset` with the Hub's flat columns: id, title, context,
question, answers = {"text": [...], "answer_start": [...]}. Records that cannot be used are
counted per problem and dropped (or, with data.invalid_records=fail, refused before training).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import datasets

from qa_experiments.data.squad_files import (
    BadPart,
    DataError,
    file_sha256,
    is_unicode_text,
    read_squad_file,
)
from qa_experiments.hub import resolve_local_files_only

__all__ = ["DataError", "SplitReport", "check_records", "limit_keeping_mix", "load_split",
           "read_squad_file"]

QUESTION_FIELDS = ("id", "context", "question")  # what a question to answer needs
REPAIR_WINDOW = 3  # characters an answer_start may be off (whitespace) and still be repaired
MAX_CONTEXT_CHARS = 100_000  # ~50x SQuAD's longest paragraph: a whole book pasted by mistake


@dataclass
class SplitReport:
    """What was found while reading one split: counts per problem, one example of each."""

    source: str
    records_read: int = 0
    examples_used: int = 0
    dropped: Counter = field(default_factory=Counter)
    repaired: Counter = field(default_factory=Counter)
    sha256: str | None = None  # of the file read (None for a Hub split)
    first_example: dict[str, str] = field(default_factory=dict)  # problem -> where: detail

    def problem(self, kind: str, where: str, detail: str) -> None:
        self.dropped[kind] += 1
        self.first_example.setdefault(kind, f"{where}: {detail}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "records_read": self.records_read,
            "examples_used": self.examples_used,
            "dropped": dict(self.dropped),
            "repaired": dict(self.repaired),
            "sha256": self.sha256,
        }

    def summary(self) -> str:
        text = f"{self.source}: {self.records_read} records read, {self.examples_used} used"
        if self.dropped:
            text += ", dropped " + ", ".join(
                f"{n} {k} (first: {self.first_example[k]})" for k, n in sorted(self.dropped.items())
            )
        if self.repaired:
            text += ", repaired " + ", ".join(f"{n} {k}" for k, n in self.repaired.items())
        return text


def load_split(
    data_cfg, split: str, *, require_answers: bool = True
) -> tuple[datasets.Dataset, SplitReport]:
    """Load, check and limit the `train` or `eval` split described by the data config.

    With `require_answers=False` (questions to answer, not to score) records need only id,
    context and question; their answers are ignored.
    """
    is_train = split == "train"
    if data_cfg.dataset_name:
        hub_split = data_cfg.train_split if is_train else data_cfg.eval_split
        source = f"{data_cfg.dataset_name}[{hub_split}]"
        records = _read_hub(data_cfg.dataset_name, data_cfg.dataset_config_name, hub_split)
    else:
        source = str(data_cfg.train_file if is_train else data_cfg.eval_file)
        records = read_squad_file(source)
    report = SplitReport(source=source, records_read=len(records),
                         sha256=None if data_cfg.dataset_name else file_sha256(source))
    examples = check_records(
        records, report, version_2=data_cfg.version_2_with_negative, is_train=is_train,
        require_answers=require_answers,
    )
    unanswerable = report.dropped.get("no_answer", 0)
    if unanswerable and not data_cfg.version_2_with_negative:
        raise DataError(
            f"{source}: {unanswerable} of {len(records)} questions have no answer, so this is "
            "SQuAD v2.0 data, but data.version_2_with_negative=false would drop them and score "
            "the rest as v1.1. Add data.version_2_with_negative=true to train on and score the "
            "unanswerable questions.")
    if data_cfg.invalid_records == "fail" and report.dropped:
        raise DataError(
            f"{report.summary()}. Fix the file or set data.invalid_records=skip to train on "
            "the valid records."
        )
    if not examples:
        raise DataError(f"{source}: no usable SQuAD records ({report.summary()}).")
    limit = data_cfg.max_train_samples if is_train else data_cfg.max_eval_samples
    examples = limit_keeping_mix(examples, limit)
    report.examples_used = len(examples)
    return datasets.Dataset.from_list(examples), report


def limit_keeping_mix(examples: list[dict[str, Any]], limit: int | None) -> list[dict[str, Any]]:
    """At most `limit` examples, in file order, with the file's answerable/unanswerable mix.

    The first `round(limit * share)` unanswerable and the first answerable questions for the
    rest: plain "first `limit`" when all are of one kind (SQuAD v1.1), while a SQuAD v2 file
    whose unanswerable questions come late (the bundled train subset) still gets its share.
    """
    if not limit or limit >= len(examples):
        return examples
    unanswerable = [i for i, example in enumerate(examples) if not example["answers"]["text"]]
    if not unanswerable or len(unanswerable) == len(examples):
        return examples[:limit]
    answerable = [i for i, example in enumerate(examples) if example["answers"]["text"]]
    n_unanswerable = round(limit * len(unanswerable) / len(examples))
    keep = sorted(unanswerable[:n_unanswerable] + answerable[: limit - n_unanswerable])
    return [examples[i] for i in keep]


def check_records(
    records: list[dict[str, Any] | BadPart], report: SplitReport, *, version_2: bool,
    is_train: bool, require_answers: bool = True,
) -> list[dict[str, Any]]:
    """Keep the usable records in the flat layout; count and describe the others."""
    kept: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    for index, record in enumerate(records):
        example = _check_record(record, report, index, version_2=version_2, is_train=is_train,
                                require_answers=require_answers)
        if example is None:
            continue
        if example["id"] in seen_ids:
            report.problem("duplicate_id", f"id {example['id']!r}", "id seen before in this split")
            continue
        seen_ids.add(example["id"])
        kept.append(example)
    return kept


class _Dropped(Exception):
    """A record that cannot be used; args: (kind, detail)."""


def _check_record(record, report, index: int, **rules) -> dict[str, Any] | None:
    if isinstance(record, BadPart):
        report.problem(record.kind, record.where, record.detail)
        return None
    try:
        return _example(record, report, **rules)
    except _Dropped as dropped:
        kind, detail = dropped.args
        qid = record.get("id")  # a record without a usable id is named by its position
        where = f"id {qid!r}" if _is_id(qid) else f"record {index} (0-based)"
        report.problem(kind, where, detail)
        return None


def _example(record, report, *, version_2, is_train, require_answers) -> dict[str, Any]:
    context, question = _question_fields(record, require_answers)
    title = _typed_fields(record)
    texts, starts = _answers(record, context, report, version_2=version_2,
                             is_train=is_train) if require_answers else ([], [])
    _check_unicode({"id": record["id"], "title": title, "context": context,
                    "question": question,
                    **{f"answer {i}": text for i, text in enumerate(texts)}})
    return {
        "id": record["id"],
        "title": title,
        "context": context,
        "question": question,
        "answers": {"text": texts, "answer_start": starts},
    }


def _is_id(value: Any) -> bool:
    """An id is non-blank text: it keys predictions.json, and the official scripts look the
    file's own id up there (a number or list would be turned into other text)."""
    return isinstance(value, str) and bool(value.strip())


def _shown(value: Any) -> str:
    """A field's value in a message, cut short (a record may hold anything)."""
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _typed_fields(record: dict[str, Any]) -> str:
    """Check the id, title and is_impossible of a record, each of the JSON type SQuAD gives it
    (never converted: a list id would become other text); return the title ("" if absent)."""
    qid = record["id"]
    if not _is_id(qid):
        raise _Dropped("malformed_id", f"the id is {_described(qid)}; an id is non-empty text")
    title = record.get("title")
    if title is not None and not isinstance(title, str):
        raise _Dropped("malformed_field", f"the title is {_described(title)}, not text")
    flag = record.get("is_impossible")
    if flag is not None and not isinstance(flag, bool):
        raise _Dropped("malformed_field", f"is_impossible is {_described(flag)}, not true or "
                                          "false")
    return title or ""


def _described(value: Any) -> str:
    """A value with the JSON name of its type, as the user sees it in the file: `a list
    ["x"]`, `text '0'`, `null`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        kind = "a boolean"
    elif isinstance(value, (int, float)):
        kind = "a number"
    else:
        kind = {dict: "an object", list: "a list", str: "text"}.get(type(value), "a value")
    return f"{kind} {_shown(value)}"


def _check_unicode(fields: dict[str, str]) -> None:
    for name, text in fields.items():
        if not is_unicode_text(text):
            raise _Dropped("invalid_unicode", f"the {name} holds a lone surrogate (a \\ud800 to "
                                              "\\udfff escape), which is not text")


def _question_fields(record: dict[str, Any], require_answers: bool) -> tuple[str, str]:
    required = QUESTION_FIELDS + (("answers",) if require_answers else ())
    missing = [key for key in required if record.get(key) is None]
    if missing:
        raise _Dropped("missing_field", f"no {', '.join(missing)}")
    context, question = record["context"], record["question"]
    if not isinstance(context, str) or not context.strip():
        raise _Dropped("empty_context", "context is empty or not text")
    if not isinstance(question, str) or not question.strip():
        raise _Dropped("empty_question", "question is empty or not text")
    if len(context) > MAX_CONTEXT_CHARS:
        raise _Dropped("context_too_long", f"{len(context)} characters")
    return context, question


def _answers(record, context, report, *, version_2, is_train) -> tuple[list[str], list[int]]:
    texts, starts = _answer_lists(record["answers"])
    if record.get("is_impossible") and texts:
        raise _Dropped("inconsistent_v2_flag", "is_impossible but has answers")
    if not texts and not version_2:
        raise _Dropped("no_answer", "no answers in a SQuAD v1.1 dataset")
    for i, (text, start) in enumerate(zip(texts, starts)):
        if not 0 <= start <= len(context) - len(text):  # any answer, any split: not a position
            raise _Dropped("answer_outside_context",
                           f"answer_start {_shown(start)} of answer {i} ({_shown(text)}) is "
                           "not a position in the "
                           f"{len(context)}-character context")
        problem = _check_answer(context, text, start)
        if problem == "repairable":
            starts[i] = _nearby_start(context, text, start)
            report.repaired["answer_start_off_by_whitespace"] += 1
        elif problem is not None and is_train and i == 0:
            raise _Dropped(problem, f"answer {text!r} at {start}")
    return texts, starts


MALFORMED_ANSWERS = "answers is not {text: [strings], answer_start: [integers]}"


def _answer_lists(answers: Any) -> tuple[list[str], list[int]]:
    """The answer texts and starts, or _Dropped("malformed_answers") naming the field."""
    if isinstance(answers, list):  # a list of {"text", "answer_start"} dicts
        if not all(isinstance(a, dict) and "text" in a and "answer_start" in a for a in answers):
            raise _Dropped("malformed_answers", f"{MALFORMED_ANSWERS} (nor a list of {{text, "
                                                "answer_start}} objects)")
        answers = {"text": [a["text"] for a in answers],
                   "answer_start": [a["answer_start"] for a in answers]}
    if not isinstance(answers, dict):
        raise _Dropped("malformed_answers", f"{MALFORMED_ANSWERS}: it is {_described(answers)}")
    texts, starts = answers.get("text"), answers.get("answer_start")
    if not isinstance(texts, list) or not isinstance(starts, list) or len(texts) != len(starts):
        raise _Dropped("malformed_answers", f"{MALFORMED_ANSWERS}: text and answer_start are "
                                            "not two lists of one length")
    for i, (text, start) in enumerate(zip(texts, starts)):
        if not isinstance(text, str):
            raise _Dropped("malformed_answers",
                           f"the text of answer {i} is {_described(text)}, not text")
        if not _is_int(start):  # a float, boolean, text or null is not a position
            raise _Dropped("malformed_answers", f"answer_start of answer {i} is "
                                                f"{_described(start)}, not an integer")
    return list(texts), list(starts)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # True is an int in Python


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
