"""The per-question answer files a run writes beside predictions.json.

- `nbest_predictions.json`: {id: [{text, probability, start_char, end_char, score}, ...]}, each
  question's `data.nbest_predictions_size` most probable candidates, best first ("" with
  start_char -1 is no answer, SQuAD v2 only); probabilities are those of the question's softmax
  (see `decoding`), so a list sums to at most 1.
- `na_prob.json` (SQuAD v2): {id: probability of no answer}, the `--na-prob-file` of the
  official evaluate-v2.0.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from qa_experiments.scoring.decoding import Prediction


def nbest_predictions(ids: Sequence[str], answers: Sequence[Prediction]) -> dict[str, Any]:
    """id -> the answer's kept candidates, best first."""
    return {qid: [dataclasses.asdict(c) for c in answer.candidates]
            for qid, answer in zip(ids, answers, strict=True)}


def no_answer_probabilities(ids: Sequence[str], answers: Sequence[Prediction]) -> dict[str, float]:
    """id -> no-answer probability (SQuAD v2 predictions)."""
    return {qid: answer.no_answer_probability for qid, answer in zip(ids, answers, strict=True)}
