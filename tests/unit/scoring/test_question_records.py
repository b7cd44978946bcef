"""Per-question records (eval_questions.jsonl): fields, official per-question scores, windows."""

from __future__ import annotations

import json

import pytest

from qa_experiments.scoring.decoding import Prediction
from qa_experiments.scoring.question_records import (
    question_records,
    windows_per_question,
    write_question_records,
)

EXAMPLES = [
    {"id": "a", "title": "Books", "question": "Who wrote it?", "context": "Jane Austen wrote it.",
     "answers": {"text": ["Jane Austen", "Austen"], "answer_start": [0, 5]}},
    {"id": "b", "question": "When?", "context": "In 1813.",
     "answers": {"text": [], "answer_start": []}},
    {"id": "c", "title": "", "question": "What?", "context": "A dot .",
     "answers": {"text": ["."], "answer_start": [6]}},
]


def test_windows_per_question_counts_each_questions_windows():
    assert windows_per_question([0, 0, 0, 1, 2, 2], 4) == [3, 1, 2, 0]


def test_v2_records_hold_official_scores_and_the_best_span():
    answers = [
        Prediction("Austen wrote", 5.0, 5, 17, probability=0.6, no_answer_probability=0.1,
                   best_span="Austen wrote"),
        Prediction("", 2.0, -1, -1, probability=0.7, no_answer_probability=0.7,
                   best_span="1813"),
        Prediction("", 2.0, -1, -1, probability=0.5, no_answer_probability=0.5,
                   best_span="dot"),
    ]
    records = question_records(EXAMPLES, answers, [2, 1, 1], version_2=True)
    a, b, c = records
    assert a["title"] == "Books" and b["title"] == ""
    assert (a["exact_match"], a["f1"]) == (0, pytest.approx(2 / 3))  # "austen wrote" vs "austen"
    assert (a["answers"], a["answer_starts"], a["windows"]) == (["Jane Austen", "Austen"],
                                                                  [0, 5], 2)
    assert (b["answers"], b["prediction"], b["exact_match"], b["f1"]) == ([], "", 1, 1.0)
    assert (b["best_span"], b["best_span_exact_match"], b["best_span_f1"]) == ("1813", 0, 0.0)
    # v2 rule: a gold answer that normalises to nothing counts as "no answer"
    assert (c["exact_match"], c["f1"], c["best_span_f1"]) == (1, 1.0, 0.0)
    assert (a["probability"], b["no_answer_probability"], a["confidence"]) == (0.6, 0.7, None)
    assert b["answer_start_char"] == -1 and a["answer_start_char"] == 5


def test_v1_records_follow_the_v1_rule_and_carry_no_v2_fields(tmp_path):
    answers = [Prediction("Jane Austen", 5.0, 0, 11, probability=0.9),
               Prediction("1813", 1.0, 3, 7, probability=0.4),
               Prediction("", float("-inf"), -1, -1)]
    examples = [EXAMPLES[0], {**EXAMPLES[1], "answers": {"text": ["1813"],
                                                         "answer_start": [3]}}, EXAMPLES[2]]
    records = question_records(examples, answers, [1, 1, 1], version_2=False,
                               confidences=[0.8, 0.3, 0.1])
    assert [(r["exact_match"], r["f1"]) for r in records] == [(1, 1.0), (1, 1.0), (1, 0.0)]
    assert "best_span" not in records[0] and records[0]["confidence"] == 0.8
    path = write_question_records(tmp_path / "eval_questions.jsonl", records)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records
