"""Platt calibration and the cross-validated tuning of calibration and no-answer threshold."""

from __future__ import annotations

import numpy as np
import pytest

from qa_experiments.scoring.calibration import PlattCalibration, fit_platt, log_odds
from qa_experiments.scoring.calibration_metrics import expected_calibration_error
from qa_experiments.scoring.decoding import Prediction
from qa_experiments.scoring.squad_metric import score_squad_v2
from qa_experiments.scoring.tuning import (
    N_FOLDS,
    TooFewQuestions,
    context_folds,
    threshold_figures,
    tune,
)


def overconfident(rng, n):
    """Probabilities whose true P(right) is sigmoid(0.5 * logit(p) - 0.5)."""
    p = rng.uniform(0.02, 0.98, n)
    truth = 1 / (1 + np.exp(-(0.5 * log_odds(p) - 0.5)))
    return p, (rng.random(n) < truth).astype(float)


def test_platt_recovers_slope_and_intercept_and_lowers_ece():
    p, hits = overconfident(np.random.default_rng(0), 20000)
    platt = fit_platt(p, hits)
    assert (platt.slope, platt.intercept) == (pytest.approx(0.5, abs=0.05),
                                              pytest.approx(-0.5, abs=0.05))
    assert expected_calibration_error(platt.confidence(p), hits) < 0.02
    assert expected_calibration_error(p, hits) > 0.1
    assert PlattCalibration.from_dict(platt.to_dict()) == platt


def test_platt_stays_finite_when_probabilities_separate_right_from_wrong():
    """Six questions, every wrong answer below every right one: 0/1 targets drive the slope
    up until every confidence is 0 or 1; Platt's targets (0.8 and 0.2 here) keep it finite."""
    p, hits = [0.1, 0.2, 0.3, 0.7, 0.8, 0.9], [0, 0, 0, 1, 1, 1]
    platt = fit_platt(p, hits)
    confidences = platt.confidence(p)
    assert 0 < platt.slope < 5
    assert 0.1 < confidences.min() < 0.3 and 0.7 < confidences.max() < 0.9


def test_platt_refuses_one_outcome_only():
    with pytest.raises(ValueError, match="both right and wrong"):
        fit_platt([0.2, 0.9], [1, 1])


def test_context_folds_keep_a_paragraphs_questions_together():
    contexts = [f"paragraph {i % 7}" for i in range(40)]
    folds = context_folds(contexts)
    for c in set(contexts):
        assert len({folds[i] for i in range(40) if contexts[i] == c}) == 1
    assert set(folds) == set(range(N_FOLDS))
    with pytest.raises(TooFewQuestions):
        context_folds(["a", "b", "a"])


def v2_questions(rng, n):
    """Answers with a null-score margin that predicts answerability (noisily)."""
    golds, answers = [], []
    for i in range(n):
        has_answer = rng.random() < 0.6
        golds.append([f"answer {i}"] if has_answer else [])
        diff = rng.normal(-1.0 if has_answer else 1.0)
        right = rng.random() < 0.7
        answers.append(Prediction("", 0.0, -1, -1, null_score_diff=diff,
                                  best_span=f"answer {i}" if right else "wrong"))
    return golds, answers


def test_cross_validated_threshold_scores_what_decoding_at_it_would_score():
    rng = np.random.default_rng(1)
    golds, answers = v2_questions(rng, 200)
    contexts = [f"c{i % 50}" for i in range(200)]
    folds = context_folds(contexts)
    section, tuned, per_question = threshold_figures(answers, golds, folds)
    for fold, threshold in enumerate(section["fold_thresholds"]):
        assert set(per_question[folds == fold]) == {threshold}
    # the same questions, answered at their out-of-fold threshold and scored officially
    predictions = {f"q{i}": a.best_span if a.null_score_diff <= t else ""
                   for i, (a, t) in enumerate(zip(answers, per_question))}
    official = score_squad_v2(predictions, {f"q{i}": g for i, g in enumerate(golds)})
    assert section["cross_validated_f1"] == pytest.approx(official["f1"])
    assert section["cross_validated_exact_match"] == pytest.approx(official["exact_match"])
    at_zero = {f"q{i}": a.best_span if a.null_score_diff <= 0 else ""
               for i, a in enumerate(answers)}
    assert section["f1_at_threshold_0"] == pytest.approx(
        score_squad_v2(at_zero, {f"q{i}": g for i, g in enumerate(golds)})["f1"])
    assert section["tuned_threshold"] == tuned


def test_tune_with_auto_decodes_each_question_at_its_out_of_fold_threshold():
    rng = np.random.default_rng(2)
    golds, base = v2_questions(rng, 60)
    seen = []

    def decode(threshold):
        seen.append(np.broadcast_to(threshold, (60,)).copy())
        return [Prediction(a.best_span if a.null_score_diff <= t else "", 0.0, -1, -1,
                           probability=0.5 + 0.4 * (a.null_score_diff <= t),
                           null_score_diff=a.null_score_diff, best_span=a.best_span)
                for a, t in zip(base, seen[-1])]

    answers, tuned = tune(decode, golds, [f"c{i % 20}" for i in range(60)], True, "auto")
    assert len(seen) == 2 and (seen[0] == 0).all()  # at 0 first, then out-of-fold thresholds
    assert set(seen[1]) == set(tuned.sections["no_answer_threshold"]["fold_thresholds"])
    assert tuned.sections["no_answer_threshold"]["threshold_used"].startswith("cross-validated")
    assert set(tuned.stored) == {"null_score_diff_threshold", "confidence"}
    assert tuned.confidences is not None and len(tuned.confidences) == 60
    assert 0 <= tuned.sections["calibration"]["ece_after"] <= 1


def test_tune_records_why_nothing_was_fitted_instead_of_failing():
    golds = [["x"]] * 10
    answers = [Prediction("x", 1.0, 0, 1, probability=0.9)] * 10
    _, tuned = tune(lambda t: answers, golds, [f"c{i}" for i in range(10)], False, 0.0)
    assert tuned.sections == {"calibration": {"skipped": "10 questions, fewer than 20"}}
    assert tuned.stored == {} and tuned.confidences is None
    golds, answers = [["x"]] * 30, [Prediction("x", 1.0, 0, 1, probability=0.9)] * 30
    _, tuned = tune(lambda t: answers, golds, [f"c{i}" for i in range(30)], False, 0.0)
    assert tuned.sections["calibration"] == {"skipped": "every answer is right"}
