"""Slices of the evaluated questions: EM/F1 by question type, answer length, context length,
windows, answer position and question-context word overlap.

Each slicer maps one record of `eval_questions.jsonl` to a bucket label; its `labels` fix the
order (and so the comparison between runs). Scores are percentages, like results.json.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Record = dict[str, Any]

WORD = re.compile(r"\w+")
NO_ANSWER = "no answer"  # the bucket of unanswerable questions (SQuAD v2) where gold matters
ALL_QUESTIONS = "all questions"  # the label of the score over every question
# A bucket of fewer questions is marked small in the tables and charts: one question more or
# less right moves its EM/F1 by 5 points or more, so its score says little on its own.
SMALL_BUCKET = 20
# First wh-word of the question decides its type; whom/whose count as who.
WH_WORDS = {"what": "what", "who": "who", "whom": "who", "whose": "who", "when": "when",
            "where": "where", "why": "why", "how": "how", "which": "which"}
QUESTION_TYPES = ("what", "who", "when", "where", "why", "how", "which", "other")
# Function words left out of the question-context overlap (they match any context).
STOP_WORDS = frozenset("""
a an the of in on at to for from by with about as into over after before between during under
and or but nor so if than then that this these those there here it its is are was were be been
being am do does did done has have had having can could will would shall should may might must
what who whom whose when where why how which not no yes i you he she we they me him her us them
my your his our their s
""".split())


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, underscore)."""
    return WORD.findall(text.lower())


def question_type(record: Record) -> str:
    """The first wh-word of the question ("In what year..." is `what`), else `other`."""
    for word in words(record["question"]):
        if word in WH_WORDS:
            return WH_WORDS[word]
    return "other"


def _bucket(value: float, edges: Sequence[float], labels: Sequence[str]) -> str:
    """labels[i] for the first edge that `value` is below; labels[len(edges)] past them all."""
    assert len(labels) == len(edges) + 1
    for edge, label in zip(edges, labels):
        if value < edge:
            return label
    return labels[-1]


ANSWER_LENGTH_LABELS = ("1 word", "2 words", "3 words", "4-5 words", "6-10 words", "11+ words",
                        NO_ANSWER)


def answer_length(record: Record) -> str:
    """Words in the first gold answer (the annotator's); `no answer` for unanswerable ones."""
    if not record["answers"]:
        return NO_ANSWER
    return _bucket(len(words(record["answers"][0])), (2, 3, 4, 6, 11), ANSWER_LENGTH_LABELS[:-1])


CONTEXT_LENGTH_LABELS = ("< 100 words", "100-149 words", "150-199 words", "200-299 words",
                         "300+ words")


def context_length(record: Record) -> str:
    """Words in the context."""
    return _bucket(len(words(record["context"])), (100, 150, 200, 300), CONTEXT_LENGTH_LABELS)


WINDOW_LABELS = ("1 window", "2 windows", "3+ windows")


def windows(record: Record) -> str:
    """How many windows the context was cut into."""
    return _bucket(record["windows"], (2, 3), WINDOW_LABELS)


POSITION_LABELS = ("1st quarter", "2nd quarter", "3rd quarter", "4th quarter", NO_ANSWER)


def answer_position(record: Record) -> str:
    """Where the first gold answer starts, as a share of the context's characters."""
    if not record["answers"]:
        return NO_ANSWER
    share = record["answer_starts"][0] / max(len(record["context"]), 1)
    return _bucket(share, (0.25, 0.5, 0.75), POSITION_LABELS[:-1])


OVERLAP_LABELS = ("< 25%", "25-49%", "50-74%", "75%+")


def overlap_share(question: str, context: str) -> float:
    """The share of the question's distinct content words (not STOP_WORDS) found in the context;
    1.0 for a question of function words only."""
    content = set(words(question)) - STOP_WORDS
    if not content:
        return 1.0
    return len(content & set(words(context))) / len(content)


def word_overlap(record: Record) -> str:
    """Question-context word overlap (see overlap_share), in quarters."""
    return _bucket(overlap_share(record["question"], record["context"]), (0.25, 0.5, 0.75),
                   OVERLAP_LABELS)


@dataclass(frozen=True)
class Slicer:
    """A named way to cut the questions into ordered buckets."""

    name: str  # a key: question_type, answer_length, ...
    title: str  # for people: "Question type"
    assign: Callable[[Record], str]
    labels: tuple[str, ...]


SLICERS = (
    Slicer("question_type", "Question type (first wh-word)", question_type, QUESTION_TYPES),
    Slicer("answer_length", "Gold answer length", answer_length, ANSWER_LENGTH_LABELS),
    Slicer("context_length", "Context length", context_length, CONTEXT_LENGTH_LABELS),
    Slicer("windows", "Windows per context", windows, WINDOW_LABELS),
    Slicer("answer_position", "Gold answer position in the context", answer_position,
           POSITION_LABELS),
    Slicer("word_overlap", "Question words found in the context", word_overlap, OVERLAP_LABELS),
)


@dataclass(frozen=True)
class SliceScore:
    """One bucket of a slice: how many questions, their EM and F1 (percent)."""

    label: str
    count: int
    exact_match: float | None  # None for an empty bucket
    f1: float | None

    @property
    def small(self) -> bool:
        """A non-empty bucket of fewer than SMALL_BUCKET questions."""
        return 0 < self.count < SMALL_BUCKET


def score_slices(records: Sequence[Record]) -> dict[str, list[SliceScore]]:
    """For every slicer: the buckets in its order, empty ones included (count 0)."""
    return {slicer.name: score_slice(records, slicer) for slicer in SLICERS}


def score_all(records: Sequence[Record]) -> SliceScore:
    """EM/F1 over every question (the reference the buckets are read against)."""
    return _score(ALL_QUESTIONS, list(records))


def score_slice(records: Sequence[Record], slicer: Slicer) -> list[SliceScore]:
    """EM/F1 per bucket of `slicer`."""
    groups: dict[str, list[Record]] = {label: [] for label in slicer.labels}
    for record in records:
        groups[slicer.assign(record)].append(record)
    return [_score(label, members) for label, members in groups.items()]


def _score(label: str, members: list[Record]) -> SliceScore:
    if not members:
        return SliceScore(label, 0, None, None)
    n = len(members)
    return SliceScore(label, n, 100.0 * sum(r["exact_match"] for r in members) / n,
                      100.0 * sum(r["f1"] for r in members) / n)
