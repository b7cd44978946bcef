"""pruner_from_description: a pruner description is checked before anything is built."""

from __future__ import annotations

import math

import pytest

from helpers import one_line
from qa_experiments.search.trial_protocol import (
    StudyAttributeError,
    pruner_from_description,
)


@pytest.mark.parametrize(("description", "problem"), [
    ({"name": "median", "arguments": {}, "_target_": "os.system"}, "unknown key '_target_'"),
    ({"_target_": "optuna.pruners.MedianPruner"}, "unknown key '_target_'"),
    ({"name": "median", "arguments": {"_target_": "os.system"}}, "unknown argument '_target_'"),
    ({"name": "eval", "arguments": {}}, "unknown pruner 'eval'"),
    ({"name": ["median"]}, "unknown pruner ['median']"),
    ("median", "expected {'name'"),
    ({"name": "median", "arguments": []}, "not a mapping"),
    ({"name": "median", "arguments": {"n_startup_trials": "5"}}, "is not an integer"),
    ({"name": "median", "arguments": {"n_startup_trials": True}}, "is not an integer"),
    ({"name": "median", "arguments": {"n_startup_trials": 5.0}}, "is not an integer"),
    ({"name": "median", "arguments": {"interval_steps": 0}}, "in [1, 1000000000]"),
    ({"name": "median", "arguments": {"n_warmup_steps": 10**12}}, "in [0, 1000000000]"),
    ({"name": "percentile", "arguments": {"percentile": 150.0}}, "in [0, 100]"),
    ({"name": "percentile", "arguments": {"percentile": math.nan}}, "a finite number"),
    ({"name": "threshold", "arguments": {"lower": math.inf}}, "a finite number"),
    ({"name": "threshold", "arguments": {"lower": None, "upper": None}}, "lower or upper"),
    ({"name": "threshold", "arguments": {"lower": 2.0, "upper": 1.0}}, "lower should be"),
    ({"name": "successive_halving", "arguments": {"min_resource": "all"}}, 'or "auto"'),
    ({"name": "hyperband", "arguments": {"reduction_factor": 1}}, "in [2, 1000000000]"),
])
def test_a_pruner_description_is_checked_before_anything_is_built(description, problem):
    with pytest.raises(StudyAttributeError) as refused:
        pruner_from_description(description, "study 'qa'")
    message = one_line(refused.value)
    assert message.startswith("study 'qa': the pruner description is refused: "), message
    assert problem in message
