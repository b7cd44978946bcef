"""SQuAD v2 no-answer thresholds: the official script's oracle figures and a tuned threshold.

`official_best_thresholds` computes best_exact / best_exact_thresh / best_f1 / best_f1_thresh
exactly as evaluate-v2.0.py does from a predictions file and a no-answer probability file
(`na_prob.json`, id -> probability): questions sorted by no-answer probability, each in turn
keeps its prediction (the script scores the predictions in the file, so an abstention stays
an abstention), and the threshold with the best total wins. These are oracle figures: the
threshold is chosen on the questions it is scored on.

`tune_threshold` chooses a `null_score_diff_threshold` for the decoding rule (answer "" when
null score - best span score > threshold) the same way, but from each question's best span, so
a tuned threshold can also turn abstentions into answers. Tuned on some questions and applied to
others (`answered`), it gives figures that did not look at the scored questions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from qa_experiments.scoring.squad_metric import question_scores


def official_best_thresholds(
    predictions: Mapping[str, str], na_probs: Mapping[str, float],
    references: Mapping[str, Sequence[str]],
) -> dict[str, float]:
    """best_exact, best_exact_thresh, best_f1, best_f1_thresh as evaluate-v2.0.py computes them
    (percent of the predicted questions; every predicted question needs a na_prob)."""
    scored = [qid for qid in references if qid in predictions]
    raw = {qid: question_scores(predictions[qid], references[qid], True) for qid in scored}
    # The script's walk: ids sorted by na_prob (stable over the na_prob file's order).
    walk = [qid for qid in sorted(na_probs, key=lambda qid: na_probs[qid]) if qid in raw]
    no_answers = float(sum(1 for golds in references.values() if not golds))
    result = {}
    for name, column in (("exact", 0), ("f1", 1)):
        gains = np.array([raw[qid][column] if references[qid] else
                          (-1.0 if predictions[qid] else 0.0) for qid in walk])
        total, index = _best_prefix(gains, no_answers)
        result[f"best_{name}"] = 100.0 * total / len(scored)
        result[f"best_{name}_thresh"] = float(na_probs[walk[index]]) if index is not None \
            else 0.0
    return result


def _best_prefix(gains: np.ndarray, base: float) -> tuple[float, int | None]:
    """The best running total of `base` + gains[0..i] (accumulated left to right, as the
    script's loop does) and the first i that reaches it; None when none beats `base`."""
    totals = np.cumsum(np.r_[base, gains])[1:]
    if not len(totals) or totals.max() <= base:
        return base, None
    index = int(np.argmax(totals))
    return float(totals[index]), index


def tune_threshold(diffs: np.ndarray, answer_f1: np.ndarray, abstain_f1: np.ndarray) -> float:
    """The `null_score_diff_threshold` with the best total F1 on these questions.

    `diffs`: null score - best span score (inf: no span); `answer_f1` / `abstain_f1`: each
    question's F1 when it answers with its best span / abstains. A question answers when its
    diff <= threshold. The threshold lies halfway between the last answered and the first
    abstaining question's diff (1 beyond the extreme ones), so that equal diffs go together.
    """
    diffs = np.asarray(diffs, dtype=np.float64)
    order = np.argsort(diffs, kind="stable")
    keys = diffs[order]
    gains = (np.asarray(answer_f1) - np.asarray(abstain_f1))[order]
    finite = np.isfinite(keys)
    keys, gains = keys[finite], gains[finite]
    if not len(keys):
        return 0.0
    totals = np.cumsum(gains)
    group_end = np.r_[keys[1:] != keys[:-1], True]  # a cut may not split equal diffs
    totals = np.where(group_end, totals, -np.inf)
    index = int(np.argmax(totals))
    if totals[index] <= 0:  # abstaining on every question is best
        return float(keys[0] - 1.0)
    if index + 1 == len(keys):
        return float(keys[-1] + 1.0)
    return float((keys[index] + keys[index + 1]) / 2)


def answered(diffs: np.ndarray, threshold: float) -> np.ndarray:
    """Which questions answer (rather than abstain) at `threshold` (the decoding's rule)."""
    return ~(np.asarray(diffs, dtype=np.float64) > threshold)
