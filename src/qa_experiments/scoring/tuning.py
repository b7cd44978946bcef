"""What is tuned on scored questions, and figures that never score a question with a setting
tuned on it: the confidence calibration and the SQuAD v2 no-answer threshold.

Reported figures are cross-validated: the questions are split into `N_FOLDS` folds by context
(all questions on one paragraph share a fold, so near-duplicate questions never straddle the
split); each fold is scored with a calibration / threshold fitted on the other folds. What is
stored with the model (`model/calibration.json`) is fitted on all the questions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qa_experiments.runs.layout import CALIBRATION
from qa_experiments.scoring.calibration import PlattCalibration, fit_platt
from qa_experiments.scoring.calibration_metrics import (
    N_BINS,
    brier_score,
    expected_calibration_error,
)
from qa_experiments.scoring.decoding import Prediction
from qa_experiments.scoring.no_answer import answered, tune_threshold
from qa_experiments.scoring.squad_metric import question_scores

N_FOLDS = 5
MIN_QUESTIONS = 20  # fewer: nothing is fitted (too few to fit and score two parameters)
FOLD_SEED = 0


class TooFewQuestions(ValueError):
    """Nothing can be fitted on these questions; the message says why."""


def context_folds(contexts: Sequence[str], n_folds: int = N_FOLDS) -> np.ndarray:
    """The fold (0..n_folds-1) of each question: distinct contexts in a seeded random order,
    dealt round-robin, so one paragraph's questions share a fold."""
    unique, inverse = np.unique(np.asarray(contexts, dtype=object).astype(str),
                                return_inverse=True)
    if len(unique) < n_folds:
        raise TooFewQuestions(f"{len(unique)} distinct contexts, fewer than {n_folds} folds")
    position = np.random.default_rng(FOLD_SEED).permutation(len(unique))
    return (position % n_folds)[inverse]


def _check_size(n: int) -> None:
    if n < MIN_QUESTIONS:
        raise TooFewQuestions(f"{n} questions, fewer than {MIN_QUESTIONS}")


def threshold_figures(
    answers: Sequence[Prediction], golds: Sequence[Sequence[str]], folds: np.ndarray,
) -> tuple[dict[str, Any], float, np.ndarray]:
    """SQuAD v2: figures at threshold 0 and with a cross-validated tuned threshold, the
    threshold tuned on all questions, and each question's out-of-fold threshold."""
    diffs = np.array([a.null_score_diff for a in answers], dtype=np.float64)
    span = np.array([question_scores(a.best_span, g, True) for a, g in zip(answers, golds)])
    abstain = np.array([question_scores("", g, True) for g in golds])
    tuned = tune_threshold(diffs, span[:, 1], abstain[:, 1])
    per_question = np.zeros(len(answers))
    fold_thresholds = []
    for fold in range(N_FOLDS):
        held_out = folds == fold
        threshold = tune_threshold(diffs[~held_out], span[~held_out, 1], abstain[~held_out, 1])
        per_question[held_out] = threshold
        fold_thresholds.append(threshold)

    def percent(thresholds) -> tuple[float, float]:
        scores = np.where(answered(diffs, thresholds)[:, None], span, abstain)
        return tuple(float(100 * v) for v in scores.mean(axis=0))

    zero_em, zero_f1 = percent(0.0)
    cv_em, cv_f1 = percent(per_question)
    section = {
        "exact_match_at_threshold_0": zero_em,
        "f1_at_threshold_0": zero_f1,
        "cross_validated_exact_match": cv_em,
        "cross_validated_f1": cv_f1,
        "fold_thresholds": fold_thresholds,
        "tuned_threshold": tuned,
        "how": (
            f"null_score_diff_threshold (answer '' when null score - best span score > it). "
            f"cross_validated_*: {N_FOLDS} folds by context, each scored with the threshold "
            f"that maximised F1 on the other folds (fold_thresholds); tuned_threshold: "
            f"maximises F1 on all {len(answers)} questions (a training run saves it in "
            f"model/{CALIBRATION} for data.null_score_diff_threshold=auto; qa-evaluate "
            "only reports it); *_at_threshold_0: the reference's fixed "
            "threshold. The oracle best_exact/best_f1 (evaluate-v2.0.py from na_prob.json) "
            "choose their threshold on the scored questions."
        ),
    }
    return section, tuned, per_question


def calibration_figures(
    probability: Sequence[float | None], exact: Sequence[float], folds: np.ndarray,
) -> tuple[dict[str, Any], PlattCalibration, np.ndarray]:
    """Platt calibration figures (ECE, Brier before/after, out-of-fold), the calibration
    fitted on all questions and each question's out-of-fold confidence."""
    p = np.array([0.0 if v is None else v for v in probability], dtype=np.float64)
    hits = np.asarray(exact, dtype=np.float64)
    if hits.min() == hits.max():
        raise TooFewQuestions(f"every answer is {'right' if hits[0] else 'wrong'}")
    confidence = np.zeros(len(p))
    for fold in range(N_FOLDS):
        held_out = folds == fold
        if hits[~held_out].min() == hits[~held_out].max():
            raise TooFewQuestions(f"the questions outside fold {fold} are all right or all wrong")
        confidence[held_out] = fit_platt(p[~held_out], hits[~held_out]).confidence(p[held_out])
    stored = fit_platt(p, hits)
    section = {
        "method": "platt",
        "outcome": "exact_match",
        "questions": len(p),
        "folds": N_FOLDS,
        "bins": N_BINS,
        "ece_before": expected_calibration_error(p, hits),
        "brier_before": brier_score(p, hits),
        "ece_after": expected_calibration_error(confidence, hits),
        "brier_after": brier_score(confidence, hits),
        "stored": stored.to_dict(),
        "how": (
            "before: the predicted answer's probability (softmax over the question's n-best "
            "spans and no answer) against its exact match; after: Platt scaling of its "
            f"log-odds, {N_FOLDS} folds by context, each question's confidence from the fit "
            "on the other folds; ECE over "
            f"{N_BINS} equal-width bins. stored: the fit on all {len(p)} questions (a "
            f"training run saves it as model/{CALIBRATION} for qa-predict and "
            "qa-evaluate; qa-evaluate only reports it)."
        ),
    }
    return section, stored, confidence


@dataclass
class Tuned:
    """What evaluating with tuning yields for results.json, the model directory and the
    per-question records."""

    sections: dict[str, Any]  # results.json keys: calibration (and no_answer_threshold)
    stored: dict[str, Any]  # the content of model/calibration.json ({} if nothing was fitted)
    confidences: np.ndarray | None  # out-of-fold confidence of each question


def skipped(reason: str) -> dict[str, Any]:
    """A section recording that nothing was fitted, and why (never a crash)."""
    return {"skipped": reason}


def tune(
    decode: Callable[[float | np.ndarray], list[Prediction]], golds: Sequence[Sequence[str]],
    contexts: Sequence[str], version_2: bool, threshold: float | str,
) -> tuple[list[Prediction], Tuned]:
    """Decode with `threshold` ("auto": each question with the threshold tuned on the other
    folds), then cross-validate the calibration (and the threshold for SQuAD v2).

    `decode(threshold)` returns the answers at a threshold (one number or one per question).
    A question set too small or too uniform to fit is recorded as skipped, never an error.
    """
    answers = decode(0.0 if threshold == "auto" else threshold)
    sections: dict[str, Any] = {}
    stored: dict[str, Any] = {}
    try:
        _check_size(len(answers))
        folds = context_folds(contexts)
    except TooFewQuestions as error:
        folds, reason = None, str(error)
    if version_2:
        if folds is None:
            sections["no_answer_threshold"] = skipped(reason)
        else:
            section, tuned, per_question = threshold_figures(answers, golds, folds)
            stored["null_score_diff_threshold"] = tuned
            if threshold == "auto":
                answers = decode(per_question)
            sections["no_answer_threshold"] = section
        sections["no_answer_threshold"]["threshold_used"] = (
            "cross-validated (fold_thresholds)" if threshold == "auto" and folds is not None
            else 0.0 if threshold == "auto" else threshold)
    exact = [question_scores(a.text, g, version_2)[0] for a, g in zip(answers, golds)]
    confidences = None
    if folds is None:
        sections["calibration"] = skipped(reason)
    else:
        try:
            section, platt, confidences = calibration_figures(
                [a.probability for a in answers], exact, folds)
            sections["calibration"] = section
            stored["confidence"] = {**platt.to_dict(), "questions": len(answers)}
        except TooFewQuestions as error:
            sections["calibration"] = skipped(str(error))
    return answers, Tuned(sections, stored, confidences)
