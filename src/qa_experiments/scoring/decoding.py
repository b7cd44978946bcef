"""Turn start/end logits of every window into one answer per question, with probabilities.

The algorithm is the reference one (Transformers' `utils_qa.postprocess_qa_predictions`): per
window, the `n_best_size` highest start and end logits are paired; a pair is a candidate when
both tokens are context tokens (covering a character), end >= start and the span is at most
`max_answer_length` tokens; the best candidate over all windows of a question wins. For
SQuAD v2 the no-answer score is the smallest CLS score over the question's windows, and "" is
predicted when it beats the best span by more than the threshold. Here it runs as array
operations over all windows at once instead of Python loops over windows and pairs.

Probabilities: a question's candidates are its `n_best_size` best spans over all its windows
(score = start + end logit; a span found in several overlapping windows counts once, with its
best score) plus, for SQuAD v2, the no-answer candidate with the null score. One softmax over
these gives probabilities that sum to 1 over the question, comparable across windows and
questions (unlike a product of per-window softmaxes). It is the reference's n-best softmax,
without its duplicate spans from overlapping windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Candidate:
    """One of a question's candidate answers ("" with start_char -1: no answer)."""

    text: str
    probability: float
    start_char: int
    end_char: int
    score: float


@dataclass
class Prediction:
    """The answer chosen for one question."""

    text: str
    score: float  # start + end logit of the span (or the null score for "")
    start_char: int  # -1 for no answer
    end_char: int
    probability: float | None = None  # of this answer (of no answer for ""); None: no candidate
    no_answer_probability: float | None = None  # SQuAD v2 only
    null_score_diff: float | None = None  # SQuAD v2: null score - best span score (inf: no span)
    best_span: str = ""  # the best non-empty answer, also when "" is predicted
    candidates: list[Candidate] = field(default_factory=list)  # best first (see keep_candidates)


@dataclass
class _Spans:
    """Every question's deduplicated candidate spans, grouped by question, best first."""

    owner: np.ndarray  # question of each candidate, ascending
    score: np.ndarray
    start_char: np.ndarray
    end_char: np.ndarray
    first: np.ndarray  # index of each question's first candidate (its best span)
    count: np.ndarray  # candidates per question


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
    null_score_diff_threshold: float | np.ndarray = 0.0,
    keep_candidates: int = 0,
) -> list[Prediction]:
    """Best answer for each example, with its probability.

    Arrays are per window (feature): logits (F, L), offsets (F, L, 2) with -1 for tokens
    outside the context, cls_index (F,), example_index (F,) sorted ascending with every example
    in `contexts` present. The threshold is one number or one per example. Returns one
    Prediction per context, in order, holding its `keep_candidates` most probable candidates
    (the no-answer one included for SQuAD v2). A context without tokens (zero-width or control
    characters only) has no candidate span: its answer is "" with start -1, and probability
    None (SQuAD v1.1) or that of no answer, 1.0 (SQuAD v2).
    """
    first_window = np.flatnonzero(np.r_[True, example_index[1:] != example_index[:-1]])
    if len(first_window) != len(contexts):
        raise ValueError(f"{len(contexts)} examples but windows for {len(first_window)} of them")
    rows = np.arange(len(start_logits))
    owner = np.repeat(np.arange(len(first_window)), np.diff(np.r_[first_window, len(rows)]))
    spans = question_spans(start_logits, end_logits, offsets, owner, len(contexts),
                           n_best_size, max_answer_length)
    null_scores = (start_logits[rows, cls_index] + end_logits[rows, cls_index]).astype(np.float64)
    example_null = np.minimum.reduceat(null_scores, first_window)
    has_span = spans.count > 0
    example_best = np.full(len(contexts), -np.inf)
    example_best[has_span] = spans.score[spans.first[has_span]]
    span_prob, null_prob = softmax_per_question(spans, example_best, example_null,
                                                version_2_with_negative)

    columns = _Columns(spans, span_prob)
    null_prob, null_score = null_prob.tolist(), example_null.tolist()
    thresholds = np.broadcast_to(null_score_diff_threshold, (len(contexts),)).tolist()
    predictions = []
    for i, context in enumerate(contexts):
        found = columns.spans_of(i, context, max(keep_candidates, 1))
        span = Prediction("", float("-inf"), -1, -1)
        if found:
            top = found[0]
            span = Prediction(top.text, top.score, top.start_char, top.end_char, top.probability,
                              best_span=top.text)
        if version_2_with_negative:
            span.no_answer_probability = null_prob[i]
            span.null_score_diff = null_score[i] - span.score
            if span.null_score_diff > thresholds[i]:
                span = Prediction("", null_score[i], -1, -1, null_prob[i], null_prob[i],
                                  span.null_score_diff, span.best_span)
            found.append(Candidate("", null_prob[i], -1, -1, null_score[i]))
            found.sort(key=lambda c: -c.score)  # stable: a span ties ahead of no answer
        span.candidates = found[:keep_candidates]
        predictions.append(span)
    return predictions


class _Columns:
    """The candidate spans as Python lists (much faster to read one by one than arrays)."""

    def __init__(self, spans: _Spans, span_prob: np.ndarray):
        self.first, self.count = spans.first.tolist(), spans.count.tolist()
        self.start, self.end = spans.start_char.tolist(), spans.end_char.tolist()
        self.score, self.prob = spans.score.tolist(), span_prob.tolist()

    def spans_of(self, i: int, context: str, keep: int) -> list[Candidate]:
        """Question i's `keep` best spans, best first."""
        b = self.first[i]
        return [Candidate(context[self.start[j]:self.end[j]], self.prob[j], self.start[j],
                          self.end[j], self.score[j])
                for j in range(b, b + min(keep, self.count[i]))]


def question_spans(
    start_logits: np.ndarray, end_logits: np.ndarray, offsets: np.ndarray, owner: np.ndarray,
    n_questions: int, n_best_size: int, max_answer_length: int,
) -> _Spans:
    """The `n_best_size` best distinct character spans of each question over all its windows.

    Ties keep the reference's order: the earlier window, then the earlier (start, end) pair.
    """
    # A token that covers no character (outside the context, or a context token such as a
    # byte-level BPE space with empty offsets) can neither start nor end an answer.
    covers_text = offsets[:, :, 0] < offsets[:, :, 1]
    score, start_tok, end_tok = window_spans(start_logits, end_logits, covers_text,
                                             n_best_size, max_answer_length)
    window = np.repeat(np.arange(len(score)), score.shape[1])
    score, start_tok, end_tok = score.ravel(), start_tok.ravel(), end_tok.ravel()
    valid = np.isfinite(score)
    window, score = window[valid], score[valid].astype(np.float64)
    start_char = offsets[window, start_tok[valid], 0]
    end_char = offsets[window, end_tok[valid], 1]
    cand_owner = owner[window]
    # Candidates are window-major and best first within a window, so a stable sort by score
    # keeps the reference's tie order. Stable single-key sorts: faster than np.lexsort.
    by_score = np.argsort(-score, kind="stable")
    # One entry per (question, start, end), packed into one integer: its best score.
    width = int(end_char.max(initial=0)) + 1
    key = (cand_owner.astype(np.int64) * width + start_char) * width + end_char
    by_key = by_score[np.argsort(key[by_score], kind="stable")]
    first_of_key = np.ones(len(by_key), dtype=bool)  # empty when no window has a context token
    first_of_key[1:] = np.diff(key[by_key]) != 0
    best_of_key = np.zeros(len(score), dtype=bool)
    best_of_key[by_key[first_of_key]] = True
    kept = by_score[best_of_key[by_score]]
    kept = kept[np.argsort(cand_owner[kept], kind="stable")]
    kept_owner = cand_owner[kept]
    rank = np.arange(len(kept)) - np.searchsorted(kept_owner, kept_owner)
    kept = kept[rank < n_best_size]
    kept_owner = cand_owner[kept]
    first = np.searchsorted(kept_owner, np.arange(n_questions))
    count = np.bincount(kept_owner, minlength=n_questions)
    return _Spans(kept_owner, score[kept], start_char[kept], end_char[kept], first, count)


def softmax_per_question(
    spans: _Spans, example_best: np.ndarray, example_null: np.ndarray, with_null: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Probability of each candidate span and of each question's no-answer candidate (zeros
    without `with_null`), one softmax per question over its spans (and no answer)."""
    top = np.maximum(example_best, example_null) if with_null else example_best
    top = np.where(np.isfinite(top), top, 0.0)
    span_exp = np.exp(spans.score - top[spans.owner])
    null_exp = np.exp(example_null - top) if with_null else np.zeros(len(top))
    total = np.bincount(spans.owner, weights=span_exp, minlength=len(top)) + null_exp
    total = np.where(total > 0, total, 1.0)
    return span_exp / total[spans.owner], null_exp / total


def window_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    in_context: np.ndarray,
    n_best_size: int,
    max_answer_length: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Score, start token and end token of the `n_best_size` best valid spans of each window,
    best first ((F, m) arrays; -inf scores where a window has fewer)."""
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
    m = min(n_best_size, pair_scores.shape[1])
    best = np.sort(np.argpartition(-pair_scores, m - 1, axis=1)[:, :m], axis=1)
    best = np.take_along_axis(
        best, np.argsort(-pair_scores[rows, best], axis=1, kind="stable"), axis=1)
    return pair_scores[rows, best], top_starts[rows, best // k], top_ends[rows, best % k]


def top_k(logits: np.ndarray, k: int, rows: np.ndarray) -> np.ndarray:
    """Indices of the k largest logits of each row, largest first (a partial sort, then a
    sort of the k)."""
    if k < logits.shape[1]:
        candidates = np.argpartition(logits, -k, axis=1)[:, -k:]
    else:
        candidates = np.broadcast_to(np.arange(logits.shape[1]), logits.shape)
    order = np.argsort(-logits[rows, candidates], axis=1, kind="stable")
    return np.take_along_axis(candidates, order, axis=1)
