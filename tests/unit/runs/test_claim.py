"""job_differences: what makes a job another job."""

from __future__ import annotations

from qa_experiments.runs.claim import job_differences


def test_job_differences_name_changed_overrides_then_resolved_settings():
    config = {"optimizer": {"lr": 5e-5}, "resume": False, "logger": {"wandb": {"mode": "auto"}}}
    attempt = {**config, "resume": True, "logger": {"wandb": {"mode": "offline"}}}
    assert job_differences(["a=1"], ["a=1", "resume=true", "logger.wandb.mode=offline"], config,
                           attempt) == ""
    assert job_differences(["a=1", "b=2"], ["a=3", "c=4"], config, config) == (
        "a=3 (was: 1); b=default (was: 2); c=4 (was: default)")
    assert job_differences(["a=1"], ["a=1"], config, {**config, "optimizer": {"lr": 1e-3}}) == (
        "optimizer.lr=0.001 (was: 5e-05)")
