"""Platt scaling: the top answer's probability -> P(the answer is exactly right).

confidence = sigmoid(a * logit(p) + b), with p the probability of the predicted answer (of no
answer when "" is predicted) and a, b fitted by maximum likelihood to exact-match outcomes.

Why Platt and not temperature scaling: temperature scaling divides the logits by one number,
so it can only sharpen or flatten the softmax; it keeps p = 0.5 at 0.5 and cannot express that
an answer with p = 0.5 is right 70% of the time. The outcome here (exact match with a gold
answer) is also not the event the softmax models (being the model's top span), so a bias is
needed as well as a scale: Platt's two parameters give both, on one feature, and fit in
milliseconds with torch's L-BFGS (torch is a core dependency; scipy and scikit-learn are not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

METHOD = "platt"
EPSILON = 1e-6  # probabilities are clipped to [EPSILON, 1 - EPSILON] before the log-odds


@dataclass(frozen=True)
class PlattCalibration:
    """confidence = sigmoid(slope * logit(probability) + intercept)."""

    slope: float
    intercept: float

    def confidence(self, probability) -> np.ndarray:
        """Calibrated P(exact match) for each probability."""
        z = self.slope * log_odds(probability) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def to_dict(self) -> dict[str, Any]:
        return {"method": METHOD, "slope": self.slope, "intercept": self.intercept}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlattCalibration:
        """The calibration `to_dict` wrote; ValueError for another method or a slope or
        intercept that is not a finite number (it would give NaN confidences)."""
        if data.get("method") != METHOD:
            raise ValueError(f"unknown calibration method {data.get('method')!r}")
        slope, intercept = float(data["slope"]), float(data["intercept"])
        if not (math.isfinite(slope) and math.isfinite(intercept)):
            raise ValueError(f"slope {slope} and intercept {intercept} must be finite numbers")
        return cls(slope, intercept)


def log_odds(probability) -> np.ndarray:
    p = np.clip(np.asarray(probability, dtype=np.float64), EPSILON, 1 - EPSILON)
    return np.log(p) - np.log1p(-p)


def platt_targets(hits: np.ndarray) -> np.ndarray:
    """Platt's (1999) regularised targets: (N+ + 1) / (N+ + 2) for a right answer and
    1 / (N- + 2) for a wrong one instead of 1 and 0. With 0/1 targets the fit has no finite
    maximum when the probabilities separate right from wrong answers (likely on a small eval
    set): the slope grows until L-BFGS stops and every confidence is 0 or 1. At 2,000
    questions the targets move by less than 0.001."""
    right = int(hits.sum())
    wrong = len(hits) - right
    return np.where(hits, (right + 1) / (right + 2), 1 / (wrong + 2))


def fit_platt(probability, correct) -> PlattCalibration:
    """Maximum-likelihood slope and intercept (L-BFGS on the logistic loss against
    `platt_targets`).

    Needs both outcomes among `correct`; with one only there is nothing to calibrate against.
    """
    hits = np.asarray(correct, dtype=np.float64) > 0.5
    if hits.min() == hits.max():
        raise ValueError("Platt scaling needs both right and wrong answers")
    x = torch.tensor(log_odds(probability))
    y = torch.tensor(platt_targets(hits))
    params = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([params], lr=1.0, max_iter=200,
                                  line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        value = torch.nn.functional.binary_cross_entropy_with_logits(
            params[0] * x + params[1], y)
        value.backward()
        return value

    optimizer.step(loss)
    slope, intercept = params.detach().tolist()
    return PlattCalibration(slope, intercept)
