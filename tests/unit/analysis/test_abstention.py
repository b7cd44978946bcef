"""The no-answer threshold curve, checked against a direct computation."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import crafted_run
from qa_experiments.analysis import abstention


def brute_force_f1(records, threshold):
    """Direct per-question reading of the rule: abstain when P(no answer) > threshold."""
    total = 0.0
    for r in records:
        if r["no_answer_probability"] > threshold:
            total += 0.0 if r["answers"] else 1.0
        else:
            total += r["best_span_f1"]
    return 100 * total / len(records)


def test_threshold_curve_matches_a_direct_computation(tmp_path):
    _, records = crafted_run(tmp_path)
    records[3]["no_answer_probability"] = records[4]["no_answer_probability"]  # a tie
    curve = abstention.threshold_curve(records)
    assert len(curve.thresholds) == 90  # 0 and the 89 distinct probabilities
    for t, f1 in zip(curve.thresholds, curve.f1):
        assert f1 == pytest.approx(brute_force_f1(records, t))
    best = max(brute_force_f1(records, r["no_answer_probability"]) for r in records)
    assert curve.best()[1] == pytest.approx(max(best, brute_force_f1(records, 0.0)))
    assert curve.f1[-1] == pytest.approx(100 * np.mean([r["best_span_f1"] for r in records]))
