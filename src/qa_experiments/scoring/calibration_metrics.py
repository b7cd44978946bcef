"""How well confidences match outcomes: reliability bins, expected calibration error, Brier score.

`confidence` is a predicted probability that an answer is right (0..1) and `correct` whether it
was (0/1, e.g. exact match), one pair per question. Bins are equal-width over [0, 1] (bin b holds
confidences in [b/n, (b+1)/n), the last bin also 1.0), as in Guo et al. (2017).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_BINS = 15


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin of a reliability diagram; mean_confidence and accuracy are nan when count is 0."""

    lower: float
    upper: float
    count: int
    mean_confidence: float
    accuracy: float


def _checked(confidence, correct) -> tuple[np.ndarray, np.ndarray]:
    conf = np.asarray(confidence, dtype=np.float64).ravel()
    hits = np.asarray(correct, dtype=np.float64).ravel()
    if conf.shape != hits.shape:
        raise ValueError(f"{conf.size} confidences but {hits.size} outcomes")
    if conf.size == 0:
        raise ValueError("no questions: calibration needs at least one confidence")
    if not np.all((conf >= 0) & (conf <= 1)):
        raise ValueError("confidences must lie in [0, 1]")
    if not np.all((hits == 0) | (hits == 1)):
        raise ValueError("outcomes must be 0 or 1")
    return conf, hits


def _bin_index(conf: np.ndarray, n_bins: int) -> np.ndarray:
    return np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)


def reliability_bins(confidence, correct, n_bins: int = N_BINS) -> list[ReliabilityBin]:
    """Per equal-width bin: how many questions, their mean confidence and their accuracy."""
    conf, hits = _checked(confidence, correct)
    index = _bin_index(conf, n_bins)
    counts = np.bincount(index, minlength=n_bins)
    conf_sums = np.bincount(index, weights=conf, minlength=n_bins)
    hit_sums = np.bincount(index, weights=hits, minlength=n_bins)
    bins = []
    for b in range(n_bins):
        n = int(counts[b])
        mean_conf, acc = (conf_sums[b] / n, hit_sums[b] / n) if n else (np.nan, np.nan)
        bins.append(ReliabilityBin(b / n_bins, (b + 1) / n_bins, n, float(mean_conf), float(acc)))
    return bins


def expected_calibration_error(confidence, correct, n_bins: int = N_BINS) -> float:
    """Sum over bins of |accuracy - mean confidence|, weighted by the bin's share of questions."""
    bins = reliability_bins(confidence, correct, n_bins)
    total = sum(b.count for b in bins)
    return float(sum(b.count / total * abs(b.accuracy - b.mean_confidence)
                     for b in bins if b.count))


def brier_score(confidence, correct) -> float:
    """Mean squared difference between confidence and outcome (0 is perfect)."""
    conf, hits = _checked(confidence, correct)
    return float(np.mean((conf - hits) ** 2))
