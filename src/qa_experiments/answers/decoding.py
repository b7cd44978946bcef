"""Turn start/end logits of every window into one answer per question.

The algorithm is the reference one (Transformers' `utils_qa.postprocess_qa_predictions`): per
window, the `n_best_size` highest start and end logits are paired; a pair is a candidate when
both tokens are context tokens, end >= start and the span is at most `max_answer_length`
tokens; the best candidate over all windows of a question wins. For SQuAD v2 the no-answer
score is the smallest CLS score over the question's windows, and "" is predicted when it
beats the best span by more than the threshold. Here it runs as array operations over all
windows at once instead of Python loops over windows and pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Prediction:
    """The answer chosen for one question."""

    text: str
    score: float  # start + end logit of the span (or the null score for "")
    start_char: int  # -1 for no answer
    end_char: int
    probability: float | None = None  # of this answer (of no answer for "")
    no_answer_probability: float | None = None  # SQuAD v2 only
    best_span: str = ""  # the best non-empty answer, also when "" is predicted


def postprocess_predictions(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    offsets: np.ndarray,
    cls_index: np.ndarray,
    example_index: np.ndarray,
    contexts: list[str],
    *,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    version_2_with_negative: bool = False,
    null_score_diff_threshold: float = 0.0,
) -> list[Prediction]:
    """Best answer for each example.

    Arrays are per window (feature): logits (F, L), offsets (F, L, 2) with -1 for tokens
    outside the context, cls_index (F,), example_index (F,) sorted ascending with every example
    in `contexts` present. Returns one Prediction per context, in order.
    """
    spans = best_spans_per_window(
        start_logits, end_logits, offsets[:, :, 0] >= 0, n_best_size, max_answer_length
    )
    best_score, best_start, best_end = spans
    rows = np.arange(len(start_logits))
    null_scores = start_logits[rows, cls_index] + end_logits[rows, cls_index]

    first_window = np.flatnonzero(np.r_[True, example_index[1:] != example_index[:-1]])
    if len(first_window) != len(contexts):
        raise ValueError(f"{len(contexts)} examples but windows for {len(first_window)} of them")
    example_best = np.maximum.reduceat(best_score, first_window)
    example_null = np.minimum.reduceat(null_scores, first_window)
    # Each example's answer comes from its first window that reaches the example's best score.
    owner = np.repeat(np.arange(len(first_window)), np.diff(np.r_[first_window, len(rows)]))
    candidates = np.flatnonzero(best_score == example_best[owner])
    winner = candidates[np.unique(owner[candidates], return_index=True)[1]]

    predictions = []
    for i, context in enumerate(contexts):
        w = winner[i]
        if not np.isfinite(example_best[i]):
            span = Prediction("", float("-inf"), -1, -1)
        else:
            start = int(offsets[w, best_start[w], 0])
            end = int(offsets[w, best_end[w], 1])
            span = Prediction(context[start:end], float(example_best[i]), start, end)
        span.best_span = span.text
        if version_2_with_negative and (
            not np.isfinite(example_best[i])
            or example_null[i] - example_best[i] > null_score_diff_threshold
        ):
            predictions.append(Prediction("", float(example_null[i]), -1, -1,
                                          best_span=span.text))
        else:
            predictions.append(span)
    return predictions


def best_spans_per_window(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    in_context: np.ndarray,
    n_best_size: int,
    max_answer_length: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score, start token and end token of the best valid span in each window (-inf if none)."""
    k = min(n_best_size, start_logits.shape[1])
    rows = np.arange(len(start_logits))[:, None]
    top_starts, top_ends = top_k(start_logits, k, rows), top_k(end_logits, k, rows)
    pair_scores = (
        start_logits[rows, top_starts][:, :, None] + end_logits[rows, top_ends][:, None, :]
    )
    length = top_ends[:, None, :] - top_starts[:, :, None] + 1
    valid = (
        (length >= 1)
        & (length <= max_answer_length)
        & in_context[rows, top_starts][:, :, None]
        & in_context[rows, top_ends][:, None, :]
    )
    pair_scores = np.where(valid, pair_scores, -np.inf).reshape(len(rows), -1)
    best = pair_scores.argmax(axis=1)
    score = pair_scores[rows[:, 0], best]
    return score, top_starts[rows[:, 0], best // k], top_ends[rows[:, 0], best % k]


def top_k(logits: np.ndarray, k: int, rows: np.ndarray) -> np.ndarray:
    """Indices of the k largest logits of each row, largest first (a partial sort, then a
    sort of the k)."""
    if k < logits.shape[1]:
        candidates = np.argpartition(logits, -k, axis=1)[:, -k:]
    else:
        candidates = np.broadcast_to(np.arange(logits.shape[1]), logits.shape)
    order = np.argsort(-logits[rows, candidates], axis=1, kind="stable")
    return np.take_along_axis(candidates, order, axis=1)
