"""ECE, Brier and reliability bins on inputs worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qa_experiments.scoring.calibration_metrics import (
    brier_score,
    expected_calibration_error,
    reliability_bins,
)


def test_hand_worked_ece_and_brier():
    # Two bins of 15 used: 0.1 (bin 1) twice, right once; 0.9 (bin 13) twice, right twice.
    confidence = [0.1, 0.1, 0.9, 0.9]
    correct = [1, 0, 1, 1]
    # |0.5 - 0.1| * 2/4 + |1.0 - 0.9| * 2/4 = 0.2 + 0.05
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.25)
    # ((0.9)^2 + 0.1^2 + 0.1^2 + 0.1^2) / 4
    assert brier_score(confidence, correct) == pytest.approx((0.81 + 0.03) / 4)


def test_perfect_confidence_scores_zero():
    assert expected_calibration_error([1.0, 0.0, 1.0], [1, 0, 1]) == 0.0
    assert brier_score([1.0, 0.0], [1, 0]) == 0.0


def test_bins_are_equal_width_and_one_falls_in_the_last():
    bins = reliability_bins([0.0, 1 / 15, 0.999, 1.0], [0, 1, 1, 1])
    assert len(bins) == 15
    assert [b.count for b in bins][:2] == [1, 1] and bins[-1].count == 2
    assert bins[0].lower == 0.0 and bins[-1].upper == pytest.approx(1.0)
    assert math.isnan(bins[5].accuracy) and bins[5].count == 0
    assert bins[-1].mean_confidence == pytest.approx(0.9995)


def test_ece_is_the_binned_gap_on_random_inputs():
    rng = np.random.default_rng(0)
    conf = rng.random(500)
    hits = (rng.random(500) < conf**2).astype(int)
    expected = 0.0
    for b in range(15):
        lo, hi = b / 15, (b + 1) / 15
        members = (conf >= lo) & ((conf < hi) if b < 14 else (conf <= hi))
        if members.any():
            expected += members.mean() * abs(hits[members].mean() - conf[members].mean())
    assert expected_calibration_error(conf, hits) == pytest.approx(expected)


@pytest.mark.parametrize(("confidence", "correct", "message"), [
    ([], [], "no questions"),
    ([0.5], [1, 0], "1 confidences but 2 outcomes"),
    ([1.5], [1], r"\[0, 1\]"),
    ([0.5], [2], "0 or 1"),
])
def test_bad_inputs_are_refused(confidence, correct, message):
    with pytest.raises(ValueError, match=message):
        expected_calibration_error(confidence, correct)
