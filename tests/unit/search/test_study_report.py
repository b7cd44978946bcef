"""The trials table of a study report."""

from __future__ import annotations

import optuna
from optuna.distributions import FloatDistribution

from qa_experiments.search.study_report import (
    markdown_table,
    trial_rows,
)


def test_trials_table_keeps_a_pruned_trials_slice_score_out_of_the_value_column():
    # Optuna gives a pruned trial its last intermediate value as value: a slice F1, which
    # must not rank against the full-set F1 of complete trials.
    study = optuna.create_study(direction="maximize")
    for value, scores in [(10.0, {20: 8.0, 40: 9.0}), (None, {20: 30.0}),
                          (12.0, {20: 7.0, 40: 11.0})]:
        trial = study.ask({"x": FloatDistribution(0, 1)})
        for step, score in scores.items():
            trial.report(score, step)
        if value is None:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, value)
    assert study.trials[1].value == 30.0  # what Optuna stores for the pruned trial
    rows = trial_rows(study.trials)
    assert [(r["value"], r["last_step"], r["last_intermediate"]) for r in rows] == [
        (10.0, 40, 9.0), (None, 20, 30.0), (12.0, 40, 11.0)]
    body = markdown_table(rows).splitlines()[2:]
    assert [line.split(" | ")[0] for line in body] == ["| 2", "| 0", "| 1"]
