"""SQuAD v2 no-answer thresholds: the official oracle figures and the tuned threshold."""

from __future__ import annotations

import numpy as np
import pytest

from official_v2_reference import official_figures
from qa_experiments.scoring.no_answer import answered, official_best_thresholds, tune_threshold

# -------------------------------------------------------------------------------------------

WORDS = ["the", "red", "fox", "jumps", "over", "a", "lazy", "dog", "Paris", "1813", "."]


def random_case(rng, n):
    golds, preds, na_probs = {}, {}, {}
    for i in range(n):
        qid = f"q{i}"
        golds[qid] = [] if rng.random() < 0.4 else [
            " ".join(rng.choice(WORDS, size=rng.integers(1, 4))) for _ in range(rng.integers(1, 3))]
        preds[qid] = "" if rng.random() < 0.3 else " ".join(rng.choice(WORDS,
                                                                         size=rng.integers(1, 4)))
        # coarse probabilities: ties, which the script's stable sort must break the same way
        na_probs[qid] = float(rng.integers(0, 8) / 7) if rng.random() < 0.5 else float(rng.random())
    order = list(rng.permutation(n))  # the na_prob file's order differs from the data's
    return golds, preds, {f"q{i}": na_probs[f"q{i}"] for i in order}


@pytest.mark.parametrize("seed", range(25))
def test_best_thresholds_equal_the_official_algorithm_on_random_inputs(seed):
    rng = np.random.default_rng(seed)
    golds, preds, na_probs = random_case(rng, int(rng.integers(1, 60)))
    assert official_best_thresholds(preds, na_probs, golds) == official_figures(golds, preds,
                                                                                na_probs)


def test_best_thresholds_hand_worked():
    golds = {"a": ["Paris"], "b": [], "c": ["fox"]}
    preds = {"a": "Paris", "b": "dog", "c": "red fox"}
    na_probs = {"a": 0.1, "b": 0.9, "c": 0.5}
    # walk a (+1), c (+2/3 F1, +0 EM), b (-1) from 1 (b abstains): best at c for F1, a for EM
    got = official_best_thresholds(preds, na_probs, golds)
    assert got == {"best_exact": pytest.approx(200 / 3), "best_exact_thresh": 0.1,
                   "best_f1": pytest.approx(100 * (1 + 1 + 2 / 3) / 3), "best_f1_thresh": 0.5}


def test_tuned_threshold_answers_where_it_pays_and_keeps_equal_diffs_together():
    diffs = np.array([-2.0, -1.0, 0.5, 0.5, 3.0, np.inf])
    answer_f1 = np.array([1.0, 0.5, 1.0, 0.0, 0.0, 0.0])
    abstain_f1 = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    # gains over abstaining, by cut: after -2: +1, after -1: +1.5, after both 0.5s: +1.5,
    # after 3.0: +0.5 (a cut between the two 0.5s is not allowed; inf never answers)
    threshold = tune_threshold(diffs, answer_f1, abstain_f1)
    assert threshold == -0.25  # halfway between -1.0 and 0.5; the first best cut wins
    assert answered(diffs, threshold).tolist() == [True, True, False, False, False, False]
    assert tune_threshold(diffs, np.zeros(6), np.ones(6)) == -3.0  # abstain on all
    assert tune_threshold(diffs, np.ones(6), np.zeros(6)) == 4.0  # answer all it can


@pytest.mark.parametrize("seed", range(10))
def test_tuned_threshold_is_as_good_as_any_on_random_inputs(seed):
    rng = np.random.default_rng(seed)
    n = 40
    diffs = np.round(rng.normal(size=n), 1)  # ties
    answer_f1, abstain_f1 = rng.random(n), (rng.random(n) < 0.4).astype(float)

    def total(t):
        return np.where(answered(diffs, t), answer_f1, abstain_f1).sum()

    best = max(total(t) for t in np.r_[diffs - 1e-9, diffs, diffs + 1e-9])
    assert total(tune_threshold(diffs, answer_f1, abstain_f1)) == pytest.approx(best)
