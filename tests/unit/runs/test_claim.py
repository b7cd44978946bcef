"""job_differences: what makes a job another job; live_owner: who holds a run directory."""

from __future__ import annotations

import os

from qa_experiments.runs.claim import Owner, job_differences, live_owner, owned


def test_job_differences_name_changed_overrides_then_resolved_settings():
    config = {"optimizer": {"lr": 5e-5}, "resume": False, "logger": {"wandb": {"mode": "auto"}}}
    attempt = {**config, "resume": True, "logger": {"wandb": {"mode": "offline"}}}
    assert job_differences(["a=1"], ["a=1", "resume=true", "logger.wandb.mode=offline"], config,
                           attempt) == ""
    assert job_differences(["a=1", "b=2"], ["a=3", "c=4"], config, config) == (
        "a=3 (was: 1); b=default (was: 2); c=4 (was: default)")
    assert job_differences(["a=1"], ["a=1"], config, {**config, "optimizer": {"lr": 1e-3}}) == (
        "optimizer.lr=0.001 (was: 5e-05)")


def test_live_owner_names_the_process_holding_the_directory_and_none_after(tmp_path):
    assert live_owner(tmp_path) is None and live_owner(tmp_path / "missing") is None
    with owned(tmp_path):  # another open file of the directory: the lock conflicts
        assert live_owner(tmp_path) == Owner(os.getpid())
    assert live_owner(tmp_path) is None
