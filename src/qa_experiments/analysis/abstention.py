"""SQuAD v2 abstention: answered/abstained against has-answer/no-answer, F1 against the
no-answer probability threshold, and the answerability precision/recall curve.

Uses the v2 fields of eval_questions.jsonl: no_answer_probability, best_span_exact_match and
best_span_f1 (the scores of the best non-empty answer). As in the official evaluate-v2.0.py, a
question is abstained on at threshold t when its no-answer probability is above t.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

V2_FIELDS = ("no_answer_probability", "best_span_exact_match", "best_span_f1")


def is_v2(records: Sequence[dict[str, Any]]) -> bool:
    """A SQuAD v2 evaluation: the records carry the v2 fields (or some gold is unanswerable)."""
    return any("no_answer_probability" in r or not r["answers"] for r in records)


def missing_v2_fields(records: Sequence[dict[str, Any]]) -> list[str]:
    """The v2 fields that some record lacks or leaves null (all of them for a v1.1 run)."""
    return [name for name in V2_FIELDS if any(r.get(name) is None for r in records)]


@dataclass(frozen=True)
class Confusion:
    """Questions by gold (has an answer / has none) and by what the run did."""

    has_answer_answered: int
    has_answer_abstained: int
    no_answer_answered: int
    no_answer_abstained: int


def confusion(records: Sequence[dict[str, Any]]) -> Confusion:
    """Counts of answered ("" is abstaining) against answerable questions."""
    counts = Counter((bool(r["answers"]), bool(r["prediction"])) for r in records)
    return Confusion(counts[True, True], counts[True, False], counts[False, True],
                     counts[False, False])


@dataclass(frozen=True)
class ThresholdCurve:
    """EM and F1 (percent) of the run's best spans when abstaining above each threshold."""

    thresholds: np.ndarray  # 0 and every distinct no-answer probability, ascending
    exact_match: np.ndarray
    f1: np.ndarray

    def best(self) -> tuple[float, float]:
        """(threshold, F1) of the highest F1 (the lowest such threshold)."""
        i = int(np.argmax(self.f1))
        return float(self.thresholds[i]), float(self.f1[i])


def threshold_curve(records: Sequence[dict[str, Any]]) -> ThresholdCurve:
    """EM/F1 at threshold 0 and at every distinct no-answer probability: at threshold t the
    questions with P(no answer) <= t get their best span, the others no answer."""
    p_na = np.array([r["no_answer_probability"] for r in records], dtype=np.float64)
    order = np.argsort(p_na, kind="stable")
    p_na = p_na[order]
    unanswerable = np.array([not r["answers"] for r in records], dtype=np.float64)[order]
    thresholds = np.unique(np.r_[0.0, p_na])
    answered = np.searchsorted(p_na, thresholds, side="right")  # how many have p <= t
    scores = []
    for key in ("best_span_exact_match", "best_span_f1"):
        span = np.array([r[key] for r in records], dtype=np.float64)[order]
        # the first `answered` questions get their span, the rest score 1 when unanswerable
        gained = np.r_[0.0, np.cumsum(span)][answered]
        abstained = unanswerable.sum() - np.r_[0.0, np.cumsum(unanswerable)][answered]
        scores.append(100.0 * (gained + abstained) / len(records))
    return ThresholdCurve(thresholds, scores[0], scores[1])


@dataclass(frozen=True)
class PrecisionRecall:
    """Precision and recall of "this question has an answer", scored by 1 - P(no answer)."""

    precision: np.ndarray
    recall: np.ndarray
    average_precision: float
    positives: int


def answerability_curve(records: Sequence[dict[str, Any]]) -> PrecisionRecall | None:
    """The curve over every cut of the answerability score; None without answerable questions."""
    score = 1.0 - np.array([r["no_answer_probability"] for r in records], dtype=np.float64)
    positive = np.array([bool(r["answers"]) for r in records])
    if not positive.any():
        return None
    order = np.argsort(-score, kind="stable")
    score, positive = score[order], positive[order]
    # one point per distinct score: tied questions are accepted together
    last_of_tie = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]
    true_pos = np.cumsum(positive)[last_of_tie]
    accepted = last_of_tie + 1
    precision = true_pos / accepted
    recall = true_pos / positive.sum()
    gains = np.diff(np.r_[0.0, recall])
    return PrecisionRecall(precision, recall, float(np.sum(gains * precision)),
                           int(positive.sum()))
